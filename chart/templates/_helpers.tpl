{{/*
Names: Kubernetes names are at most 63 characters (DNS labels); truncate, then drop a
trailing "-" the cut may leave.
*/}}
{{- define "fasttext-edge.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fasttext-edge.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A name derived from the full name, e.g. "<fullname>-test", kept within 63 characters. */}}
{{- define "fasttext-edge.componentName" -}}
{{- $suffix := printf "-%s" .suffix -}}
{{- printf "%s%s" (include "fasttext-edge.fullname" .root | trunc (int (sub 63 (len $suffix))) | trimSuffix "-") $suffix -}}
{{- end -}}

{{/* The ClusterIP Service of the management port. */}}
{{- define "fasttext-edge.managementServiceName" -}}
{{- include "fasttext-edge.componentName" (dict "root" . "suffix" "management") -}}
{{- end -}}

{{- define "fasttext-edge.namespace" -}}
{{- default .Release.Namespace .Values.namespaceOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "fasttext-edge.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Selector labels: minimal and immutable (a Deployment's selector cannot change after
install), so nothing here may depend on the version or on values a user changes.
*/}}
{{- define "fasttext-edge.selectorLabels" -}}
app.kubernetes.io/name: {{ include "fasttext-edge.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "fasttext-edge.labels" -}}
{{ include "fasttext-edge.selectorLabels" . }}
app.kubernetes.io/version: {{ (default .Chart.AppVersion .Values.image.tag) | trunc 63 | trimSuffix "-" | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: fasttext-edge
helm.sh/chart: {{ include "fasttext-edge.chart" . }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* metadata.annotations for every object, when commonAnnotations is set. */}}
{{- define "fasttext-edge.annotations" -}}
{{- with .Values.commonAnnotations -}}
annotations:
  {{- toYaml . | nindent 2 }}
{{- end -}}
{{- end -}}

{{- define "fasttext-edge.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "fasttext-edge.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository:tag, or repository@digest when a digest is pinned. */}}
{{- define "fasttext-edge.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* The label a client pod carries to pass the NetworkPolicy when allowExternal is false. */}}
{{- define "fasttext-edge.clientLabel" -}}
{{- printf "%s-client" (include "fasttext-edge.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
A whole number as a string. Values read from YAML are float64 in templates, and
`quote` on 1048576.0 gives "1.048576e+06", which the service would reject.
*/}}
{{- define "fasttext-edge.int" -}}
{{- printf "%d" (int64 .) -}}
{{- end -}}

{{/* Where the model cache emptyDir is mounted (MODEL_CACHE_DIR). */}}
{{- define "fasttext-edge.cacheDir" -}}
/var/cache/fasttext-edge
{{- end -}}

{{/*
The container's own env entries (the ConfigMap holds the rest): the model override, the S3
keys from an existing Secret, and extraEnv last so it wins.
*/}}
{{- define "fasttext-edge.env" -}}
{{- with .Values.model.uri }}
- name: MODEL_URI
  value: {{ . | quote }}
{{- end }}
{{- with .Values.model.md5 }}
- name: MODEL_MD5
  value: {{ . | quote }}
{{- end }}
{{- with .Values.model.sha256 }}
- name: MODEL_SHA256
  value: {{ . | quote }}
{{- end }}
{{- with .Values.model.canaries }}
- name: MODEL_CANARIES
  value: {{ toJson . | quote }}
{{- end }}
{{- with .Values.s3.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.s3.existingSecretKeys.accessKeyId }}
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ $.Values.s3.existingSecretKeys.secretAccessKey }}
{{- with $.Values.s3.existingSecretKeys.sessionToken }}
- name: AWS_SESSION_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ $.Values.s3.existingSecret }}
      key: {{ . }}
{{- end }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Knative autoscaling annotations (on the revision template). target is a soft concurrency
target per pod; containerConcurrency (admission.maxInFlight) is the hard one.
*/}}
{{- define "fasttext-edge.knativeScaling" -}}
{{- $k := .Values.knative -}}
autoscaling.knative.dev/min-scale: {{ include "fasttext-edge.int" $k.minScale | quote }}
autoscaling.knative.dev/max-scale: {{ include "fasttext-edge.int" $k.maxScale | quote }}
autoscaling.knative.dev/initial-scale: {{ include "fasttext-edge.int" $k.initialScale | quote }}
{{- if gt (int64 $k.target) 0 }}
autoscaling.knative.dev/target: {{ include "fasttext-edge.int" $k.target | quote }}
{{- end }}
{{- with $k.scaleDownDelay }}
autoscaling.knative.dev/scale-down-delay: {{ . | quote }}
{{- end }}
{{- end -}}

{{/*
Knative's request timeout: the request deadline (admission.requestTimeoutMs) rounded up to a
second, plus one, so the service's own 504 JSON answer reaches the client before Knative
cuts the connection.
*/}}
{{- define "fasttext-edge.knativeTimeoutSeconds" -}}
{{- add (div (add (int64 .Values.admission.requestTimeoutMs) 999) 1000) 1 -}}
{{- end -}}
