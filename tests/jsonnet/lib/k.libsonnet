// A tiny library of object constructors. Its own import of util.libsonnet must find
// lib/util.libsonnet (next to this file), not app/util.libsonnet.
local util = import 'util.libsonnet';

{
  configMap(name, namespace, data):: {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: name, namespace: namespace, labels: util.labels },
    data: data,
  },
}
