{{/*
The pod template shared by the Deployment and the Knative Service. Called with
(dict "root" $ "knative" bool). Under Knative the container declares one port (the traffic
port, named http1 as Knative requires), its probes carry no port (Knative probes the serving
port, which answers /health and /ready too), and the fields Knative refuses are left out:
the startup probe, the preStop hook, the grace period (Knative derives it from
timeoutSeconds), `privileged` and fsGroupChangePolicy.
*/}}
{{- define "fasttext-edge.podTemplate" -}}
{{- $ := .root -}}
{{- $knative := .knative -}}
{{- $v := $.Values -}}
metadata:
  labels:
    {{- /*
    The selector labels win over podLabels: the selector must keep matching. No
    helm.sh/chart here: a chart version bump alone must not roll every pod (and make each
    download the model again).
    */}}
    {{- $selector := include "fasttext-edge.selectorLabels" $ | fromYaml }}
    {{- $standard := omit (include "fasttext-edge.labels" $ | fromYaml) "helm.sh/chart" }}
    {{- toYaml (merge $selector (deepCopy $v.podLabels) $standard) | nindent 4 }}
  annotations:
    {{- /*
    A change of any service setting (the ConfigMap's data, not its labels) or of the model
    changes these and rolls the pods.
    */}}
    {{- $configData := (include (print $.Template.BasePath "/configmap.yaml") $ | fromYaml).data }}
    {{- $rollOn := dict "checksum/config" (toYaml $configData | sha256sum) "fasttext-edge/model-uri" (default "image-lock" $v.model.uri) "fasttext-edge/model-md5" (default "image-lock" $v.model.md5) }}
    {{- if $knative }}
    {{- $rollOn = merge $rollOn (include "fasttext-edge.knativeScaling" $ | fromYaml) }}
    {{- end }}
    {{- toYaml (merge $rollOn (deepCopy $v.podAnnotations)) | nindent 4 }}
spec:
  serviceAccountName: {{ include "fasttext-edge.serviceAccountName" $ }}
  automountServiceAccountToken: {{ $v.serviceAccount.automountServiceAccountToken }}
  {{- with $v.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  {{- if $knative }}
  containerConcurrency: {{ include "fasttext-edge.int" $v.admission.maxInFlight }}
  timeoutSeconds: {{ include "fasttext-edge.knativeTimeoutSeconds" $ }}
  securityContext:
    {{- toYaml (omit $v.podSecurityContext "fsGroupChangePolicy") | nindent 4 }}
  {{- else }}
  terminationGracePeriodSeconds: {{ include "fasttext-edge.int" $v.terminationGracePeriodSeconds }}
  securityContext:
    {{- toYaml $v.podSecurityContext | nindent 4 }}
  {{- end }}
  {{- with $v.initContainers }}
  initContainers:
    {{- tpl (toYaml .) $ | nindent 4 }}
  {{- end }}
  containers:
    - name: {{ $.Chart.Name }}
      {{- include "fasttext-edge.container" (dict "root" $ "knative" $knative) | nindent 6 }}
    {{- with $v.sidecars }}
    {{- tpl (toYaml .) $ | nindent 4 }}
    {{- end }}
  volumes:
    - name: model-cache
      emptyDir:
        sizeLimit: {{ $v.model.cache.sizeLimit }}
        {{- with $v.model.cache.medium }}
        medium: {{ . }}
        {{- end }}
    - name: tmp
      emptyDir:
        sizeLimit: {{ $v.tmpDir.sizeLimit }}
    {{- with $v.extraVolumes }}
    {{- tpl (toYaml .) $ | nindent 4 }}
    {{- end }}
  {{- with $v.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with include "fasttext-edge.affinity" $ }}
  affinity:
    {{- . | nindent 4 }}
  {{- end }}
  {{- with $v.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with $v.topologySpreadConstraints }}
  topologySpreadConstraints:
    {{- range . }}
    {{- $constraint := deepCopy . }}
    {{- if not (hasKey $constraint "labelSelector") }}
    {{- $_ := set $constraint "labelSelector" (dict "matchLabels" (include "fasttext-edge.selectorLabels" $ | fromYaml)) }}
    {{- end }}
    {{- /* Count only the pods of the current ReplicaSet, so a rollout's old pods do not skew the spread. */}}
    {{- if and (not $knative) (not (hasKey $constraint "matchLabelKeys")) }}
    {{- $_ := set $constraint "matchLabelKeys" (list "pod-template-hash") }}
    {{- end }}
    - {{- toYaml $constraint | nindent 6 }}
    {{- end }}
  {{- end }}
{{- end -}}

{{/* The service container after its name. Called with (dict "root" $ "knative" bool). */}}
{{- define "fasttext-edge.container" -}}
{{- $ := .root -}}
{{- $knative := .knative -}}
{{- $v := $.Values -}}
image: {{ include "fasttext-edge.image" $ | quote }}
imagePullPolicy: {{ $v.image.pullPolicy }}
{{- if $v.diagnosticMode.enabled }}
command: ["sleep"]
args: ["infinity"]
{{- end }}
securityContext:
  {{- toYaml (ternary (omit $v.containerSecurityContext "privileged") $v.containerSecurityContext $knative) | nindent 2 }}
ports:
  {{- if $knative }}
  - name: http1
    containerPort: {{ include "fasttext-edge.int" $v.containerPorts.http }}
    protocol: TCP
  {{- else }}
  - name: http
    containerPort: {{ include "fasttext-edge.int" $v.containerPorts.http }}
    protocol: TCP
  - name: management
    containerPort: {{ include "fasttext-edge.int" $v.containerPorts.management }}
    protocol: TCP
  {{- end }}
envFrom:
  - configMapRef:
      name: {{ include "fasttext-edge.fullname" $ }}
  {{- with $v.extraEnvFrom }}
  {{- tpl (toYaml .) $ | nindent 2 }}
  {{- end }}
{{- with include "fasttext-edge.env" $ }}
env:
  {{- . | nindent 2 }}
{{- end }}
{{- if not $v.diagnosticMode.enabled }}
{{- if and $v.startupProbe.enabled (not $knative) }}
startupProbe:
  {{- include "fasttext-edge.probe" (dict "probe" $v.startupProbe "custom" $v.customStartupProbe) | nindent 2 }}
{{- end }}
{{- if $v.livenessProbe.enabled }}
livenessProbe:
  {{- include "fasttext-edge.probe" (dict "probe" $v.livenessProbe "custom" $v.customLivenessProbe "knative" $knative "servingPort" (include "fasttext-edge.int" $v.containerPorts.http)) | nindent 2 }}
{{- end }}
{{- if $v.readinessProbe.enabled }}
readinessProbe:
  {{- include "fasttext-edge.probe" (dict "probe" $v.readinessProbe "custom" $v.customReadinessProbe "knative" $knative "servingPort" (include "fasttext-edge.int" $v.containerPorts.http)) | nindent 2 }}
{{- end }}
{{- end }}
{{- if and (not $knative) (gt (int64 $v.lifecycle.preStopSleepSeconds) 0) }}
lifecycle:
  preStop:
    sleep:
      seconds: {{ include "fasttext-edge.int" $v.lifecycle.preStopSleepSeconds }}
{{- end }}
resources:
  {{- toYaml $v.resources | nindent 2 }}
volumeMounts:
  - name: model-cache
    mountPath: {{ include "fasttext-edge.cacheDir" $ }}
  - name: tmp
    mountPath: /tmp
  {{- with $v.extraVolumeMounts }}
  {{- tpl (toYaml .) $ | nindent 2 }}
  {{- end }}
{{- end -}}

{{/*
affinity: the operator's `affinity` whole when set; otherwise podAntiAffinityPreset on the
node (kubernetes.io/hostname): `auto` is `soft` when more than one pod may run (replicaCount, or
the HPA's maximum) and nothing otherwise, and nothing under Knative.
*/}}
{{- define "fasttext-edge.affinity" -}}
{{- $v := .Values -}}
{{- if $v.affinity -}}
{{- toYaml $v.affinity -}}
{{- else -}}
{{- $preset := $v.podAntiAffinityPreset -}}
{{- if eq $preset "auto" -}}
{{- $pods := int64 $v.replicaCount -}}
{{- /* Knative accepts affinity only behind its kubernetes.podspec-affinity feature flag. */ -}}
{{- if $v.knative.enabled -}}{{- $pods = 0 -}}
{{- else if $v.autoscaling.enabled -}}{{- $pods = int64 $v.autoscaling.maxReplicas -}}{{- end -}}
{{- $preset = ternary "soft" "none" (gt $pods 1) -}}
{{- end -}}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "fasttext-edge.selectorLabels" . | fromYaml)) -}}
{{- if eq $preset "soft" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 1
      podAffinityTerm:
        {{- toYaml $term | nindent 8 }}
{{- else if eq $preset "hard" -}}
podAntiAffinity:
  requiredDuringSchedulingIgnoredDuringExecution:
    - {{- toYaml $term | nindent 6 }}
{{- end -}}
{{- end -}}
{{- end -}}
