{{/* Labels shared by every object of the release; `name` selects the pods. */}}
{{- define "zipkin.labels" -}}
app.kubernetes.io/part-of: zipkin
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ .Chart.Name }}-{{ .Chart.Version }}
{{- end -}}

{{/* MYSQL_USER and MYSQL_PASS from the zipkin-mysql Secret; both default to empty. */}}
{{- define "zipkin.mysqlCredentials" -}}
- name: MYSQL_USER
  valueFrom:
    secretKeyRef:
      name: zipkin-mysql
      key: user
- name: MYSQL_PASS
  valueFrom:
    secretKeyRef:
      name: zipkin-mysql
      key: password
{{- end -}}
