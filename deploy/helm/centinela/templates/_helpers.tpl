{{- define "centinela.labels" -}}
app.kubernetes.io/part-of: centinela
{{- end }}
