// One ConfigMap whose data comes from an external variable and a relative import.
local labels = import 'labels.libsonnet';

{
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'settings', labels: labels },
  data: { greeting: std.extVar('greeting') },
}
