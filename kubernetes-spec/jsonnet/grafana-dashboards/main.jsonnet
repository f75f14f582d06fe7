// The grafana-dashboards ConfigMap: one import request per dashboard, read by the
// grafana-import-dashboards Job. External variables: `namespace` (where Grafana
// runs) and `app_namespace` (the sock-shop namespace the dashboards query).
local grafana = import 'lib/dashboard.libsonnet';

local namespace = std.extVar('namespace');
local appNamespace = std.extVar('app_namespace');

local services = ['carts', 'catalogue', 'front-end', 'orders', 'payment', 'shipping', 'user'];

local sockShop = grafana.dashboard(
  uid='sock-shop-performance',
  title='Sock Shop Performance',
  tags=['sock-shop'],
  panels=[
    grafana.graph(
      'Requests per second: ' + service,
      [{
        expr: 'sum(rate(request_duration_seconds_count{kubernetes_namespace="%s",name="%s"}[1m])) by (status_code)' % [appNamespace, service],
        legend: '{{status_code}}',
      }],
      unit='reqps',
    )
    for service in services
  ],
);

local pods = grafana.dashboard(
  uid='kubernetes-pods',
  title='Kubernetes Pods',
  tags=['kubernetes'],
  panels=[
    grafana.graph(
      'CPU by pod',
      [{ expr: 'sum(rate(container_cpu_usage_seconds_total{namespace="%s",container!=""}[1m])) by (pod)' % appNamespace, legend: '{{pod}}' }],
      unit='short',
    ),
    grafana.graph(
      'Memory by pod',
      [{ expr: 'sum(container_memory_working_set_bytes{namespace="%s",container!=""}) by (pod)' % appNamespace, legend: '{{pod}}' }],
      unit='bytes',
    ),
    grafana.graph(
      'Pods not ready',
      [{ expr: 'sum(kube_pod_status_ready{namespace="%s",condition="false"}) by (pod)' % appNamespace, legend: '{{pod}}' }],
    ),
    grafana.graph(
      'Container restarts',
      [{ expr: 'sum(increase(kube_pod_container_status_restarts_total{namespace="%s"}[10m])) by (pod)' % appNamespace, legend: '{{pod}}' }],
    ),
  ],
);

{
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: {
    name: 'grafana-dashboards',
    namespace: namespace,
    labels: { name: 'grafana-dashboards' },
  },
  data: {
    [dashboard.uid + '.json']: std.manifestJsonEx(grafana.importRequest(dashboard), '  ')
    for dashboard in [sockShop, pods]
  },
}
