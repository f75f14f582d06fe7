{{/* Labels shared by every object of the release; `name` selects the pods. */}}
{{- define "zipkin.labels" -}}
app.kubernetes.io/part-of: zipkin
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}
