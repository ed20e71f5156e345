{{/* Labels every object of this release carries (Helm's recommended set). */}}
{{- define "hubml.labels" -}}
app.kubernetes.io/name: hubml
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end }}

{{/* Selector labels of one component (hub, proxy, device-plugin). */}}
{{- define "hubml.selector" -}}
app.kubernetes.io/name: hubml
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* A value kept across upgrades: the given one, else the one already in the Secret, else a new random one. */}}
{{- define "hubml.persistentSecret" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace "hub" -}}
{{- if .value -}}
{{- .value -}}
{{- else if and $existing (hasKey $existing.data .key) -}}
{{- index $existing.data .key | b64dec -}}
{{- else -}}
{{- randAlphaNum 32 -}}
{{- end -}}
{{- end }}

{{/* The Secret holding the S3 keys in the hub's namespace. */}}
{{- define "hubml.storageSecret" -}}
{{- .Values.storage.s3.existingSecret | default "hubml-storage" -}}
{{- end }}
