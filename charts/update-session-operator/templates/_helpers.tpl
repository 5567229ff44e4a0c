{{/* The prefix of every object's name. */}}
{{- define "uso.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "uso.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "uso.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end -}}

{{/* The Secret holding the REST server's tls.crt and tls.key, if any. */}}
{{- define "uso.restSecret" -}}
{{- if eq .Values.rest.tls.mode "secret" -}}
{{- required "rest.tls.secretName is required with rest.tls.mode=secret" .Values.rest.tls.secretName -}}
{{- else if eq .Values.rest.tls.mode "certManager" -}}
{{- printf "%s-rest-cert" (include "uso.fullname" .) -}}
{{- end -}}
{{- end -}}
