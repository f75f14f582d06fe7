{
  apiVersion: 'v1',
  kind: 'List',
  items: [
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'one' } },
    { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'two' } },
  ],
}
