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
{{- $ours := true -}}
{{- if .custom -}}
{{- $fields = merge (deepCopy .custom) $kubernetesDefaults -}}
{{- $name = .customName -}}
{{- $pathKey = printf "%s.httpGet.path" .customName -}}
{{- $ports := .ports | fromJsonArray -}}
{{- with .custom.httpGet }}{{ $path = default "" .path }}{{ $ours = has (toString .port) $ports }}{{ end -}}
{{- else if eq .probe.type "httpGet" -}}
{{- $path = .probe.path -}}
{{- end -}}
name: {{ $name }}
pathKey: {{ $pathKey }}
ours: {{ $ours }}
path: {{ $path | quote }}
initialDelaySeconds: {{ include "fasttext-edge.int" $fields.initialDelaySeconds }}
periodSeconds: {{ include "fasttext-edge.int" $fields.periodSeconds }}
timeoutSeconds: {{ include "fasttext-edge.int" $fields.timeoutSeconds }}
successThreshold: {{ include "fasttext-edge.int" $fields.successThreshold }}
failureThreshold: {{ include "fasttext-edge.int" $fields.failureThreshold }}
{{- end -}}

{{/* The effective liveness/readiness/startup probe, as a dict. */}}
{{- define "fasttext-edge.livenessFields" -}}
{{- include "fasttext-edge.effectiveProbe" (dict "probe" .Values.livenessProbe "custom" .Values.customLivenessProbe "name" "livenessProbe" "customName" "customLivenessProbe" "ports" (include "fasttext-edge.servicePorts" .)) -}}
{{- end -}}
{{- define "fasttext-edge.readinessFields" -}}
{{- include "fasttext-edge.effectiveProbe" (dict "probe" .Values.readinessProbe "custom" .Values.customReadinessProbe "name" "readinessProbe" "customName" "customReadinessProbe" "ports" (include "fasttext-edge.servicePorts" .)) -}}
{{- end -}}
{{- define "fasttext-edge.startupFields" -}}
{{- include "fasttext-edge.effectiveProbe" (dict "probe" .Values.startupProbe "custom" .Values.customStartupProbe "name" "startupProbe" "customName" "customStartupProbe" "ports" (include "fasttext-edge.servicePorts" .)) -}}
{{- end -}}

{{/* Whether a probe renders at all: enabled, and not in diagnostic mode. */}}
{{- define "fasttext-edge.probesOn" -}}
{{- if not .Values.diagnosticMode.enabled }}true{{ end -}}
{{- end -}}

{{/*
What the service answers on a probe path, exactly as its router matches (measured against the
running service): case-insensitive, the query string and fragment ignored, one trailing
slash allowed; /health and /v2/health/live are liveness, /ready and /v2/health/ready
readiness. Anything else, repeated slashes included ("//ready" is a 404), is "none".
Output: "liveness", "readiness" or "none"; "" for "".
*/}}
{{- define "fasttext-edge.routeOf" -}}
{{- $path := . | toString | lower -}}
{{- if $path -}}
{{- $path = regexReplaceAll "[?#].*$" $path "" -}}
{{- if and (gt (len $path) 1) (hasSuffix "/" $path) -}}
{{- $path = trimSuffix "/" $path -}}
{{- end -}}
{{- $routes := dict "/health" "liveness" "/v2/health/live" "liveness" "/ready" "readiness" "/v2/health/ready" "readiness" -}}
{{- get $routes $path | default "none" -}}
{{- end -}}
{{- end -}}

{{/*
What a misspelt path was probably meant as, for messages: case, query, repeated and trailing
slashes folded. "readiness", "liveness" or "none".
*/}}
{{- define "fasttext-edge.routeMeant" -}}
{{- $path := regexReplaceAll "/+" (regexReplaceAll "[?#].*$" (. | toString | lower) "") "/" -}}
{{- include "fasttext-edge.routeOf" (trimSuffix "/" $path | default "/") -}}
{{- end -}}

{{/*
Refuses a probe whose path the service does not answer with the check it needs. Called with
(dict "probe" <effectiveProbe dict> "want" "liveness"|"readiness"|"any" "fix" "/health").
Probes on other ports than the service's (a custom probe aimed at a sidecar) are not judged.
*/}}
{{- define "fasttext-edge.guardrails.probeRoute" -}}
{{- $p := .probe -}}
{{- if and $p.path $p.ours -}}
{{- $got := include "fasttext-edge.routeOf" $p.path -}}
{{- $meant := include "fasttext-edge.routeMeant" $p.path -}}
{{- $answers := dict "liveness" "as liveness (/health)" "readiness" "as readiness (/ready)" "none" "with 404 (no such route)" -}}
{{- $why := dict
  "liveness" "liveness must not depend on the model or on S3, or a slow download restarts healthy pods"
  "readiness" "readiness on it sends traffic to pods whose model is not loaded yet"
  "any" "the startup probe would fail every time and the kubelet would restart the pod forever" -}}
{{- if and (ne .want "any") (ne $got .want) -}}
{{- $reason := get $why .want -}}
{{- if eq $got "none" -}}
{{- $reason = ternary "the probe fails every time, so the kubelet restarts healthy pods forever" "no pod would ever turn ready" (eq .want "liveness") -}}
{{- if ne $meant "none" }}{{ $reason = printf "%s (the service does not fold repeated slashes)" $reason }}{{ end -}}
{{- end -}}
{{- fail (printf "%s is %s, which the service answers %s: %s. Set %s=%s." $p.pathKey $p.path (get $answers $got) $reason $p.pathKey .fix) -}}
{{- else if and (eq .want "any") (eq $got "none") -}}
{{- fail (printf "%s is %s, which the service answers %s: %s. Set %s=%s." $p.pathKey $p.path (get $answers $got) (get $why "any") $p.pathKey .fix) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The container's own ports, by name and number, as a list: what a probe may target. */}}
{{- define "fasttext-edge.servicePorts" -}}
{{- list "http" "management" (include "fasttext-edge.int" .Values.containerPorts.http) (include "fasttext-edge.int" .Values.containerPorts.management) | toJson -}}
{{- end -}}
