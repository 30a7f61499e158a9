{{/*
One probe from the values. Called with (dict "probe" .Values.livenessProbe "custom" .Values.customLivenessProbe), plus
"knative" true and "servingPort" under Knative.
A non-empty custom probe replaces the whole object. Fields are printed as given: no
`default`, which would silently turn a deliberate 0 into something else.
*/}}
{{- define "fasttext-edge.probe" -}}
{{- if .custom -}}
{{- toYaml .custom -}}
{{- else -}}
{{- $p := .probe -}}
{{- /* Knative accepts a probe only on the serving port, which answers /health and /ready too. */ -}}
{{- $port := ternary (.servingPort | toString) "management" (.knative | default false) -}}
{{- if eq $p.type "tcpSocket" -}}
tcpSocket:
  port: {{ $port }}
{{- else -}}
httpGet:
  path: {{ $p.path }}
  port: {{ $port }}
{{- end }}
initialDelaySeconds: {{ include "fasttext-edge.int" $p.initialDelaySeconds }}
periodSeconds: {{ include "fasttext-edge.int" $p.periodSeconds }}
timeoutSeconds: {{ include "fasttext-edge.int" $p.timeoutSeconds }}
successThreshold: {{ include "fasttext-edge.int" $p.successThreshold }}
failureThreshold: {{ include "fasttext-edge.int" $p.failureThreshold }}
{{- end -}}
{{- end -}}

{{/*
The fields the guardrails compare, for the probe that will actually render: the custom one
(with Kubernetes' defaults for what it leaves out) or the one built from the values.
`name` is the values key the messages must point at. Output is YAML, read with fromYaml.
*/}}
{{- define "fasttext-edge.effectiveProbe" -}}
{{- $kubernetesDefaults := dict "initialDelaySeconds" 0 "periodSeconds" 10 "timeoutSeconds" 1 "successThreshold" 1 "failureThreshold" 3 -}}
{{- $fields := .probe -}}
{{- $name := .name -}}
{{- $pathKey := printf "%s.path" .name -}}
{{- $path := "" -}}
{{- if .custom -}}
{{- $fields = merge (deepCopy .custom) $kubernetesDefaults -}}
{{- $name = .customName -}}
{{- $pathKey = printf "%s.httpGet.path" .customName -}}
{{- with .custom.httpGet }}{{ $path = default "" .path }}{{ end -}}
{{- else if eq .probe.type "httpGet" -}}
{{- $path = .probe.path -}}
{{- end -}}
name: {{ $name }}
pathKey: {{ $pathKey }}
path: {{ $path | quote }}
initialDelaySeconds: {{ include "fasttext-edge.int" $fields.initialDelaySeconds }}
periodSeconds: {{ include "fasttext-edge.int" $fields.periodSeconds }}
timeoutSeconds: {{ include "fasttext-edge.int" $fields.timeoutSeconds }}
successThreshold: {{ include "fasttext-edge.int" $fields.successThreshold }}
failureThreshold: {{ include "fasttext-edge.int" $fields.failureThreshold }}
{{- end -}}

{{/* The effective liveness/readiness/startup probe, as a dict. */}}
{{- define "fasttext-edge.livenessFields" -}}
{{- include "fasttext-edge.effectiveProbe" (dict "probe" .Values.livenessProbe "custom" .Values.customLivenessProbe "name" "livenessProbe" "customName" "customLivenessProbe") -}}
{{- end -}}
{{- define "fasttext-edge.readinessFields" -}}
{{- include "fasttext-edge.effectiveProbe" (dict "probe" .Values.readinessProbe "custom" .Values.customReadinessProbe "name" "readinessProbe" "customName" "customReadinessProbe") -}}
{{- end -}}
{{- define "fasttext-edge.startupFields" -}}
{{- include "fasttext-edge.effectiveProbe" (dict "probe" .Values.startupProbe "custom" .Values.customStartupProbe "name" "startupProbe" "customName" "customStartupProbe") -}}
{{- end -}}

{{/* Whether a probe renders at all: enabled, and not in diagnostic mode. */}}
{{- define "fasttext-edge.probesOn" -}}
{{- if not .Values.diagnosticMode.enabled }}true{{ end -}}
{{- end -}}

{{/*
The check a probe path reaches, the way the service's router matches it: case-insensitive,
repeated and trailing slashes ignored, the query string and fragment dropped, and the Open
Inference Protocol aliases folded in (/v2/health/live is /health, /v2/health/ready is
/ready). Any other path is returned normalised. "" stays "".
*/}}
{{- define "fasttext-edge.routeOf" -}}
{{- $path := . | toString | lower -}}
{{- $path = regexReplaceAll "[?#].*$" $path "" -}}
{{- $path = regexReplaceAll "/+" $path "/" -}}
{{- if and (gt (len $path) 1) (hasSuffix "/" $path) -}}
{{- $path = trimSuffix "/" $path -}}
{{- end -}}
{{- $aliases := dict "/v2/health/live" "/health" "/v2/health/ready" "/ready" -}}
{{- get $aliases $path | default $path -}}
{{- end -}}
