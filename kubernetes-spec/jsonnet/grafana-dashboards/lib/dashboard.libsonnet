// Small builders for Grafana 7 dashboards: graph panels laid out two per row.
{
  // A graph panel plotting one Prometheus query per entry of `targets`.
  graph(title, targets, unit='short'):: {
    type: 'graph',
    title: title,
    datasource: 'prometheus',
    lines: true,
    linewidth: 1,
    fill: 1,
    yaxes: [
      { format: unit, show: true },
      { format: 'short', show: false },
    ],
    // Grafana names the queries of a panel A, B, C, ...
    targets: std.mapWithIndex(
      function(i, target) { expr: target.expr, legendFormat: target.legend, refId: std.char(65 + i) },
      targets,
    ),
  },

  // Place each panel on a 24-column grid, two panels of 12 columns per row.
  layout(panels):: [
    panels[i] {
      id: i + 1,
      gridPos: { x: (i % 2) * 12, y: std.floor(i / 2) * 8, w: 12, h: 8 },
    }
    for i in std.range(0, std.length(panels) - 1)
  ],

  // A dashboard with a stable uid, so importing it twice overwrites instead of duplicating.
  dashboard(uid, title, panels, tags=[]):: {
    uid: uid,
    title: title,
    tags: tags,
    timezone: 'browser',
    refresh: '30s',
    schemaVersion: 27,
    time: { from: 'now-1h', to: 'now' },
    panels: $.layout(panels),
  },

  // The body Grafana's POST /api/dashboards/db expects.
  importRequest(dashboard):: {
    dashboard: dashboard,
    overwrite: true,
  },
}
