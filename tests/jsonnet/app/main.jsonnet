// Dashboards as ConfigMaps: an external variable, a top-level argument, a relative
// import (util.libsonnet next to this file) and a library import (k.libsonnet).
local k = import 'k.libsonnet';
local util = import 'util.libsonnet';
local namespace = std.extVar('namespace');

function(title='Untitled') {
  dashboards: {
    main: k.configMap('dashboards' + util.suffix, namespace, { title: title }),
  },
  extra: [
    k.configMap('extra' + util.suffix, namespace, { panels: importstr 'panels.txt' }),
  ],
}
