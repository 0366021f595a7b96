{{- define "atlaspatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "atlaspatch.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "atlaspatch.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "atlaspatch.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* Labels of every object; call with (dict "root" $ "component" "encoder"). */}}
{{- define "atlaspatch.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .root.Chart.Name .root.Chart.Version | replace "+" "_" }}
{{ include "atlaspatch.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
app.kubernetes.io/part-of: atlaspatch
{{- end -}}

{{- define "atlaspatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "atlaspatch.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "atlaspatch.tokenSecret" -}}
{{- .Values.auth.existingSecret | default (printf "%s-token" (include "atlaspatch.fullname" .)) -}}
{{- end -}}

{{- define "atlaspatch.tlsSecret" -}}
{{- .Values.tls.existingSecret | default (printf "%s-tls" (include "atlaspatch.fullname" .)) -}}
{{- end -}}

{{/* host:port of a service of this release, as the orchestrator dials it. */}}
{{- define "atlaspatch.url" -}}
{{- $scheme := ternary "grpcs://" "" .root.Values.tls.enabled -}}
{{- printf "%s%s-%s:%v" $scheme (include "atlaspatch.fullname" .root) .component .port -}}
{{- end -}}

{{/* Environment shared by both services: token, TLS. */}}
{{- define "atlaspatch.securityEnv" -}}
{{- if .Values.auth.enabled }}
- name: ATLASPATCH_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "atlaspatch.tokenSecret" . }}
      key: token
{{- end }}
{{- if .Values.tls.enabled }}
- name: ATLASPATCH_TLS_CERT
  value: /etc/atlaspatch/tls/tls.crt
- name: ATLASPATCH_TLS_KEY
  value: /etc/atlaspatch/tls/tls.key
- name: ATLASPATCH_TLS_CA
  value: /etc/atlaspatch/tls/ca.crt
{{- end }}
{{- end -}}

{{/*
Probes on the standard gRPC health service. Kubernetes' own gRPC probe cannot speak TLS, so
with TLS the image's `atlaspatch serve health` runs instead.
*/}}
{{- define "atlaspatch.probes" -}}
{{- $check := dict "grpc" (dict "port" .port) -}}
{{- if .root.Values.tls.enabled -}}
{{- $check = dict "exec" (dict "command" (list "atlaspatch" "serve" "health" (printf "grpcs://localhost:%v" .port))) -}}
{{- end -}}
startupProbe:
  {{- toYaml $check | nindent 2 }}
  periodSeconds: 10
  failureThreshold: 60
readinessProbe:
  {{- toYaml $check | nindent 2 }}
  periodSeconds: 5
  failureThreshold: 2
livenessProbe:
  {{- toYaml $check | nindent 2 }}
  periodSeconds: 20
  timeoutSeconds: 5
  failureThreshold: 3
{{- end -}}

{{- define "atlaspatch.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  fsGroup: 10001
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{- define "atlaspatch.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: [ALL]
{{- end -}}
