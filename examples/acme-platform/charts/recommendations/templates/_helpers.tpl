{{/* Chart name, truncated to the DNS label limit. */}}
{{- define "recommendations.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Release-qualified name; the release is called "recommendations" in both envs. */}}
{{- define "recommendations.fullname" -}}
{{- if contains .Chart.Name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}

{{- define "recommendations.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/name: {{ include "recommendations.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
acme.io/team: ml
{{- end }}

{{- define "recommendations.selectorLabels" -}}
app.kubernetes.io/name: {{ include "recommendations.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "recommendations.featureStoreSecret" -}}
{{- if .Values.featureStore.existingSecret }}
{{- .Values.featureStore.existingSecret }}
{{- else }}
{{- printf "%s-feature-store" (include "recommendations.fullname" .) }}
{{- end }}
{{- end }}
