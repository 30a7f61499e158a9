{{/*
Guardrails on capacity: PodDisruptionBudgets that would block every node drain, and memory
and cache sizes too small for the model copies the engine starts. Included from
_guardrails.tpl. The sizing numbers are documented in values.yaml (model.bytes).
*/}}

{{/* Pods the PDB counts on at the quietest time: the HPA's minimum, else replicaCount. */}}
{{- define "fasttext-edge.minPods" -}}
{{- if .Values.autoscaling.enabled -}}
{{- int64 .Values.autoscaling.minReplicas -}}
{{- else -}}
{{- int64 .Values.replicaCount -}}
{{- end -}}
{{- end -}}

{{/*
A PDB allows disruptions = pods - minAvailable, or maxUnavailable; Kubernetes rounds a
percentage up (ceil). Zero allowed disruptions with every pod healthy blocks each drain.
*/}}
{{- define "fasttext-edge.guardrails.pdbDrain" -}}
{{- $v := .Values -}}
{{- if $v.pdb.create -}}
{{- $pods := include "fasttext-edge.minPods" . | atoi -}}
{{- $podsKey := ternary (printf "autoscaling.minReplicas (%d)" $pods) (printf "replicaCount (%d)" $pods) $v.autoscaling.enabled -}}
{{- $min := toString $v.pdb.minAvailable -}}
{{- $max := toString $v.pdb.maxUnavailable -}}
{{- if ne $min "" -}}
{{- $keep := 0 -}}
{{- if hasSuffix "%" $min -}}
{{- $keep = div (add (mul (atoi (trimSuffix "%" $min)) $pods) 99) 100 -}}
{{- else -}}
{{- $keep = atoi $min -}}
{{- end -}}
{{- if ge (int $keep) (int $pods) -}}
{{- $podsValue := ternary "autoscaling.minReplicas" "replicaCount" $v.autoscaling.enabled -}}
{{- $orFix := ternary (printf "set pdb.minAvailable to at most %d" (sub $pods 1)) (printf "raise %s to 2 or more" $podsValue) (gt (int $pods) 1) -}}
{{- fail (printf "pdb.minAvailable (%s) keeps %d of %s pods: no pod may ever be evicted, so every node drain blocks. Set pdb.minAvailable=\"\" and pdb.maxUnavailable=1, or %s." $min (int $keep) $podsKey $orFix) -}}
{{- end -}}
{{- else if ne $max "" -}}
{{- if or (eq $max "0") (eq (regexReplaceAll "^0+%$" $max "0%") "0%") -}}
{{- fail (printf "pdb.maxUnavailable is %s: no pod may ever be evicted, so every node drain blocks. Set pdb.maxUnavailable=1 (or a percentage above 0)." $max) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
A Kubernetes quantity (512Mi, 9Gi, 1.5G, 1000000) as whole bytes, printed as an integer
(template output is a string; read it back with atoi / int64). "" when empty.
*/}}
{{- define "fasttext-edge.quantityBytes" -}}
{{- $q := . | toString | trim -}}
{{- if $q -}}
{{- $units := dict "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 "k" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "m" 0.001 -}}
{{- $unit := regexFind "(Ki|Mi|Gi|Ti|k|M|G|T|m)$" $q -}}
{{- $number := trimSuffix $unit $q | float64 -}}
{{- printf "%.0f" (mulf $number (get $units $unit | default 1)) -}}
{{- end -}}
{{- end -}}

{{/* Bytes as MiB for messages, rounded up. */}}
{{- define "fasttext-edge.mib" -}}
{{- printf "%dMi" (div (add (int64 .) 1048575) 1048576) -}}
{{- end -}}

{{/*
Model copies the engine can hold at once: engine.poolSize for k=1, plus engine.widePoolSize
for each k>1 tier. The tiers are engine.kTiers (each capped at limits.maxK) plus the widest
tier, limits.maxK (fewer when the model has fewer labels; the chart cannot know the label
count, so it assumes the most).
*/}}
{{- define "fasttext-edge.modelCopies" -}}
{{- $v := .Values -}}
{{- $maxK := int64 $v.limits.maxK -}}
{{- $tiers := dict -}}
{{- if ne (lower (toString $v.engine.kTiers)) "none" -}}
{{- range splitList "," (toString $v.engine.kTiers) -}}
{{- $k := atoi (trim .) -}}
{{- if gt $k 1 -}}{{- $_ := set $tiers (toString (min $k $maxK)) true -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- if gt $maxK 1 -}}{{- $_ := set $tiers (toString $maxK) true -}}{{- end -}}
{{- add (int64 $v.engine.poolSize) (mul (int64 $v.engine.widePoolSize) (len $tiers)) -}}
{{- end -}}

{{/*
With model.bytes set: the memory limit must hold every model copy plus the process, the
prediction cache (2 x cache.maxBytes, when cache.enabled) and the request bodies the service
lets it hold (http.maxBodyReaders being read + 64 queued, each up to limits.maxBodyBytes), the
cache volume a download in progress next to the verified file, and a tmpfs cache must fit
in the memory limit beside the copies. Numbers in values.yaml (model.bytes).
*/}}
{{- define "fasttext-edge.guardrails.modelSizing" -}}
{{- $v := .Values -}}
{{- $model := int64 (default 0 $v.model.bytes) -}}
{{- if gt $model 0 -}}
{{- $copies := include "fasttext-edge.modelCopies" . | atoi -}}
{{- $perChild := include "fasttext-edge.quantityBytes" $v.memorySizing.childOverhead | atoi -}}
{{- $process := include "fasttext-edge.quantityBytes" $v.memorySizing.processOverhead | atoi -}}
{{- /* Evicted cache entries stay on the heap until a full GC: about twice the bound under churn. */ -}}
{{- $predictions := ternary (mul 2 (int64 $v.cache.maxBytes)) 0 $v.cache.enabled -}}
{{- /* The service's bounds: MAX_BODY_READERS bodies being read, 64 x MAX_BODY_BYTES queued (app/config.ts maxQueueBytes). */ -}}
{{- $bodies := mul (add (int64 $v.http.maxBodyReaders) 64) (int64 $v.limits.maxBodyBytes) -}}
{{- $engine := add (mul $copies (add $model $perChild)) $process $predictions $bodies -}}
{{- $cache := mul 2 $model -}}
{{- $memory := 0 -}}
{{- with $v.resources.limits }}{{ with .memory }}{{ $memory = include "fasttext-edge.quantityBytes" . | atoi }}{{ end }}{{ end -}}
{{- $tmpfs := eq (toString $v.model.cache.medium) "Memory" -}}
{{- $needed := ternary (add $engine $cache) $engine $tmpfs -}}
{{- $copiesText := printf "(engine.poolSize %d + engine.widePoolSize %d x %d k>1 tiers from engine.kTiers %q and limits.maxK %d) = %d model copies x (model.bytes %d + %s per child) + %s for the Node process (memorySizing.*) + %s of cached predictions (2 x cache.maxBytes) + %s of request bodies ((http.maxBodyReaders %d + 64 queued) x limits.maxBodyBytes)" (int64 $v.engine.poolSize) (int64 $v.engine.widePoolSize) (div (sub $copies (int64 $v.engine.poolSize)) (max 1 (int64 $v.engine.widePoolSize))) (toString $v.engine.kTiers) (int64 $v.limits.maxK) $copies $model (include "fasttext-edge.mib" $perChild) (include "fasttext-edge.mib" $process) (include "fasttext-edge.mib" $predictions) (include "fasttext-edge.mib" $bodies) (int64 $v.http.maxBodyReaders) -}}
{{- if eq $memory 0 -}}
{{- fail (printf "model.bytes is set (%d) but resources.limits.memory is not: the engine needs %s%s = %s. Set resources.limits.memory to at least %s." $model $copiesText (ternary (printf " + %s for the tmpfs cache (model.cache.medium=Memory, 2 x model.bytes)" (include "fasttext-edge.mib" $cache)) "" $tmpfs) (include "fasttext-edge.mib" $needed) (include "fasttext-edge.mib" $needed)) -}}
{{- end -}}
{{- if lt $memory $engine -}}
{{- fail (printf "resources.limits.memory (%s = %s) is below what the engine can hold: %s = %s, so the pod is OOM-killed once the engine starts its k>1 tiers (right after it turns ready with engine.warmTiers, else at the first k>1 request). Set resources.limits.memory to at least %s, or lower the copies (engine.kTiers=none, engine.widePoolSize, engine.poolSize)." (toString $v.resources.limits.memory) (include "fasttext-edge.mib" $memory) $copiesText (include "fasttext-edge.mib" $engine) (include "fasttext-edge.mib" $needed)) -}}
{{- end -}}
{{- if and $tmpfs (lt $memory $needed) -}}
{{- fail (printf "model.cache.medium is Memory: the cache (a download in progress + the verified file = 2 x model.bytes = %s) counts against resources.limits.memory (%s = %s), which the engine already needs %s of (%s). Set resources.limits.memory to at least %s, or model.cache.medium=\"\" (node disk)." (include "fasttext-edge.mib" $cache) (toString $v.resources.limits.memory) (include "fasttext-edge.mib" $memory) (include "fasttext-edge.mib" $engine) $copiesText (include "fasttext-edge.mib" $needed)) -}}
{{- end -}}
{{- $sizeLimit := include "fasttext-edge.quantityBytes" $v.model.cache.sizeLimit | atoi -}}
{{- if lt $sizeLimit $cache -}}
{{- fail (printf "model.cache.sizeLimit (%s = %s) cannot hold a download in progress next to the verified file: 2 x model.bytes (%d) = %s, or the kubelet evicts the pod mid-download. Set model.cache.sizeLimit to at least %s." (toString $v.model.cache.sizeLimit) (include "fasttext-edge.mib" $sizeLimit) $model (include "fasttext-edge.mib" $cache) (include "fasttext-edge.mib" (add $cache 67108864))) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
NOTES warning: a startup probe on a readiness path holds liveness until the model is loaded,
so its window (initialDelaySeconds + failureThreshold x periodSeconds) must cover the
download at model.downloadRateBytesPerSecond plus the load (10 s + 1 s per 10 MB, the engine's
default load deadline); otherwise the kubelet restarts the pod mid-download, forever.
*/}}
{{- define "fasttext-edge.notes.startupWindow" -}}
{{- $v := .Values -}}
{{- $model := int64 (default 0 $v.model.bytes) -}}
{{- if and $v.startupProbe.enabled (not $v.diagnosticMode.enabled) (gt $model 0) -}}
{{- $startup := include "fasttext-edge.startupFields" . | fromYaml -}}
{{- if eq (include "fasttext-edge.routeOf" $startup.path) "readiness" -}}
{{- $window := add (int64 $startup.initialDelaySeconds) (mul (int64 $startup.failureThreshold) (int64 $startup.periodSeconds)) -}}
{{- $rate := int64 $v.model.downloadRateBytesPerSecond -}}
{{- $needed := add (div (add $model (sub $rate 1)) $rate) 10 (div $model 10000000) -}}
{{- if lt $window $needed }}

WARNING: {{ $startup.pathKey }} is {{ $startup.path }} (readiness), so the startup probe waits for
the model, but its window ({{ $startup.name }}: {{ $startup.initialDelaySeconds }} + {{ $startup.failureThreshold }} x {{ $startup.periodSeconds }} s = {{ $window }} s)
is shorter than downloading model.bytes ({{ $model }}) at model.downloadRateBytesPerSecond
({{ $rate }}) plus loading it: {{ $needed }} s. The kubelet will restart every pod mid-download.
Point the startup probe at /health, or raise {{ $startup.name }}.failureThreshold to at least {{ div (add $needed (sub (int64 $startup.periodSeconds) 1)) (int64 $startup.periodSeconds) }}.
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Knative: values that cannot work under a Knative Service. */}}
{{- define "fasttext-edge.guardrails.knative" -}}
{{- $v := .Values -}}
{{- $k := $v.knative -}}
{{- if or $v.ingress.enabled $v.httpRoute.enabled -}}
{{- fail "knative.enabled with ingress.enabled or httpRoute.enabled: Knative routes traffic itself (its ingress and domain mapping), and the chart's Ingress/HTTPRoute would point at a Service Knative does not create. Set ingress.enabled=false and httpRoute.enabled=false, or knative.enabled=false." -}}
{{- end -}}
{{- if $v.networkPolicy.enabled -}}
{{- fail "knative.enabled with networkPolicy.enabled: Knative's activator and queue-proxy (port 8012) carry the traffic, which this chart's NetworkPolicy (traffic port only) would block. Set networkPolicy.enabled=false and use Knative's own network policies, or knative.enabled=false." -}}
{{- end -}}
{{- if and (gt (int64 $k.maxScale) 0) (gt (int64 $k.minScale) (int64 $k.maxScale)) -}}
{{- fail (printf "knative.minScale (%d) is greater than knative.maxScale (%d). Raise knative.maxScale or lower knative.minScale." (int64 $k.minScale) (int64 $k.maxScale)) -}}
{{- end -}}
{{- if and (gt (int64 $k.target) 0) (gt (int64 $k.target) (int64 $v.admission.maxInFlight)) -}}
{{- fail (printf "knative.target (%d) is above containerConcurrency (admission.maxInFlight = %d): the autoscaler would aim at a concurrency the pod refuses. Set knative.target to at most %d, or 0 for Knative's default." (int64 $k.target) (int64 $v.admission.maxInFlight) (int64 $v.admission.maxInFlight)) -}}
{{- end -}}
{{- end -}}
