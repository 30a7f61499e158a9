{{/*
Guardrails: value combinations that restart healthy pods, stall a rollout, cut a drain
short or that Kubernetes would reject after a half-applied upgrade. Each `fail` names the
values and the fix. Types, ranges and unknown keys are the schema's job
(values.schema.json); these are the rules that relate two or more values.
Included once, from deployment.yaml.
*/}}
{{- define "fasttext-edge.guardrails" -}}
{{- $v := .Values -}}

{{- /* The model: a uri without its MD5 could load any file that happens to be there. */ -}}
{{- if and $v.model.uri (not $v.model.md5) -}}
{{- fail (printf "model.uri is set (%s) but model.md5 is empty: the service only loads a file whose MD5 was fixed when the model was published. Pass --set-string model.md5=<32 hex> with the uri, or leave model.uri empty to serve the image's baked model." $v.model.uri) -}}
{{- end -}}
{{- /* A checksum without its uri is checked against the image's baked model, which it never matches. */ -}}
{{- range $key := list "md5" "sha256" -}}
{{- $sum := get $v.model $key | default "" | toString -}}
{{- if and $sum (not $v.model.uri) -}}
{{- fail (printf "model.%s is set (%s) but model.uri is empty: the pods would check the image's baked model against it and stay not ready (md5_mismatch) forever. Set model.uri to the object this checksum belongs to (--set model.uri=s3://bucket/key), or set model.%s=\"\" to serve the baked model." $key $sum $key) -}}
{{- end -}}
{{- end -}}

{{- /* The model's variables come from model.* alone: set through extraEnv they would escape the
checks above and release:verify, and win over the chart's own entries. */ -}}
{{- range $e := $v.extraEnv -}}
{{- $field := get (dict "MODEL_URI" "uri" "MODEL_MD5" "md5" "MODEL_SHA256" "sha256" "MODEL_CANARIES" "canaries" "MODEL_LOCK_FILE" "uri") (toString $e.name) -}}
{{- if $field -}}
{{- fail (printf "extraEnv sets %s: the model's variables come from model.* (set model.%s instead), so that the chart's checks and release:verify see the model the pods will load." $e.name $field) -}}
{{- end -}}
{{- /* The settings the checks below weigh against each other, and the ports the probes and
Services point at: set through extraEnv they would win over the values the chart checked. */ -}}
{{- $checked := dict "ENGINE_RESTART_BASE_MS" "engine.restartBaseMs" "ENGINE_RESTART_MAX_MS" "engine.restartMaxMs" "MODEL_RETRY_BASE_MS" "model.retry.baseMs" "MODEL_RETRY_MAX_MS" "model.retry.maxMs" "REQUEST_TIMEOUT_MS" "admission.requestTimeoutMs" "ADMISSION_QUEUE_DELAY_TARGET_MS" "admission.queueDelayTargetMs" "ADMISSION_QUEUE_DELAY_INTERVAL_MS" "admission.queueDelayIntervalMs" "SHUTDOWN_DRAIN_TIMEOUT_MS" "shutdown.drainTimeoutSeconds" "SHUTDOWN_DELAY_MS" "shutdown.delaySeconds" "LIVENESS_MAX_EVENT_LOOP_DELAY_MS" "watchdog.maxEventLoopDelayMs" "PORT" "containerPorts.http" "MANAGEMENT_PORT" "containerPorts.management" -}}
{{- $value := get $checked (toString $e.name) -}}
{{- if $value -}}
{{- fail (printf "extraEnv sets %s: the chart checks it against other settings and points probes and Services by it, so it comes from values alone (set %s instead)." $e.name $value) -}}
{{- end -}}
{{- end -}}

{{- /* An s3:// model behind a NetworkPolicy that lets nothing out: never ready, whatever else. */ -}}
{{- $np := $v.networkPolicy -}}
{{- if and $np.enabled (not $np.allowExternalEgress) (not $np.extraEgress) (hasPrefix "s3://" (toString $v.model.uri)) -}}
{{- fail (printf "model.uri is %s but networkPolicy.allowExternalEgress is false and networkPolicy.extraEgress is empty: the pods can reach only DNS, never S3 (nor STS for IRSA), so they never turn ready. Add the S3 (and STS) endpoints to networkPolicy.extraEgress (an ipBlock or a namespaceSelector for an in-cluster store), or set networkPolicy.allowExternalEgress=true." $v.model.uri) -}}
{{- end -}}

{{- /* Routes: to the traffic port only, and somewhere to attach. */ -}}
{{- if and $v.httpRoute.enabled (not $v.httpRoute.parentRefs) -}}
{{- fail "httpRoute.enabled is true but httpRoute.parentRefs is empty: the route attaches to no Gateway and carries no traffic. Set httpRoute.parentRefs to your Gateway, e.g. [{name: public-gateway, namespace: gateway-system}]." -}}
{{- end -}}
{{- range $i, $rule := $v.httpRoute.rules -}}
{{- if hasKey $rule "backendRefs" -}}
{{- fail (printf "httpRoute.rules[%d] sets backendRefs: the chart points every rule at the traffic Service (port service.port) so no route can reach the management port. Remove backendRefs from httpRoute.rules[%d]." $i $i) -}}
{{- end -}}
{{- end -}}
{{- if and $v.ingress.enabled (not $v.ingress.hostname) $v.ingress.tls -}}
{{- fail "ingress.tls is true but ingress.hostname is empty: the TLS Secret is named after the host. Set ingress.hostname, or use ingress.extraTls." -}}
{{- end -}}

{{- if eq (int64 $v.containerPorts.http) (int64 $v.containerPorts.management) -}}
{{- fail (printf "containerPorts.http and containerPorts.management are both %d: the service refuses to start. Give the management listener its own port (default 9090)." (int64 $v.containerPorts.http)) -}}
{{- end -}}

{{- /* Probes (none render in diagnostic mode, so none are checked there). */ -}}
{{- if not $v.diagnosticMode.enabled -}}
{{- $liveness := include "fasttext-edge.livenessFields" . | fromYaml -}}
{{- $readiness := include "fasttext-edge.readinessFields" . | fromYaml -}}
{{- $startup := include "fasttext-edge.startupFields" . | fromYaml -}}
{{- $enabled := dict "liveness" $v.livenessProbe.enabled "readiness" $v.readinessProbe.enabled "startup" $v.startupProbe.enabled -}}

{{- range $kind, $probe := dict "liveness" $liveness "readiness" $readiness "startup" $startup -}}
{{- if get $enabled $kind -}}
{{- if ge (int64 $probe.timeoutSeconds) (int64 $probe.periodSeconds) -}}
{{- fail (printf "%s.timeoutSeconds (%d) must be less than %s.periodSeconds (%d): a probe that may outlast its period piles up behind a slow process. Lower %s.timeoutSeconds or raise %s.periodSeconds." $probe.name (int64 $probe.timeoutSeconds) $probe.name (int64 $probe.periodSeconds) $probe.name $probe.name) -}}
{{- end -}}
{{- if and (ne $kind "readiness") (ne (int64 $probe.successThreshold) 1) -}}
{{- fail (printf "%s.successThreshold is %d but must be 1 for liveness and startup probes (Kubernetes rejects any other value). Set %s.successThreshold to 1." $probe.name (int64 $probe.successThreshold) $probe.name) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- /*
Each probe's path must reach the check it needs, as the service's router matches it
(fasttext-edge.routeOf): liveness on /health, readiness on /ready (or their OIP aliases), in
any spelling the router folds (case, the query string, one trailing slash). A path the
router does not know is a 404: a liveness probe there restarts every pod forever.
*/ -}}
{{- if $v.livenessProbe.enabled -}}
{{- include "fasttext-edge.guardrails.probeRoute" (dict "probe" $liveness "want" "liveness" "fix" "/health (or /v2/health/live)") -}}
{{- end -}}
{{- if $v.readinessProbe.enabled -}}
{{- include "fasttext-edge.guardrails.probeRoute" (dict "probe" $readiness "want" "readiness" "fix" "/ready (or /v2/health/ready)") -}}
{{- end -}}
{{- if $v.startupProbe.enabled -}}
{{- include "fasttext-edge.guardrails.probeRoute" (dict "probe" $startup "want" "any" "fix" "/health") -}}
{{- end -}}

{{- /* The kubelet must not judge the event loop more strictly than the watchdog does: a probe
that times out before the lag /health tolerates restarts a pod the service holds healthy. An
HTTP probe on the service's own ports only: a TCP connect is the kernel's, and a sidecar's
probe is not the service's. */ -}}
{{- if and $v.livenessProbe.enabled $liveness.ours $liveness.path (lt (mul (int64 $liveness.timeoutSeconds) 1000) (int64 $v.watchdog.maxEventLoopDelayMs)) -}}
{{- fail (printf "%s.timeoutSeconds (%d) is shorter than watchdog.maxEventLoopDelayMs (%d ms): an event loop lagging less than the watchdog tolerates would time the probe out, and the kubelet restart a pod that /health holds healthy (a slow pod, not a wedged one). Set %s.timeoutSeconds to at least %d (below its periodSeconds), or lower watchdog.maxEventLoopDelayMs." $liveness.name (int64 $liveness.timeoutSeconds) (int64 $v.watchdog.maxEventLoopDelayMs) $liveness.name (div (add (int64 $v.watchdog.maxEventLoopDelayMs) 999) 1000)) -}}
{{- end -}}

{{- if and $v.livenessProbe.enabled $v.readinessProbe.enabled (not $v.startupProbe.enabled) (lt (int64 $readiness.initialDelaySeconds) (int64 $liveness.initialDelaySeconds)) -}}
{{- fail (printf "%s.initialDelaySeconds (%d) is less than %s.initialDelaySeconds (%d) while startupProbe is off: readiness must not start before liveness is established. Set %s.initialDelaySeconds to at least %d, or enable startupProbe." $readiness.name (int64 $readiness.initialDelaySeconds) $liveness.name (int64 $liveness.initialDelaySeconds) $readiness.name (int64 $liveness.initialDelaySeconds)) -}}
{{- end -}}
{{- end -}}

{{- /* Rollout. */ -}}
{{- if eq $v.updateStrategy.type "RollingUpdate" -}}
{{- $surge := toString $v.updateStrategy.rollingUpdate.maxSurge -}}
{{- $unavailable := toString $v.updateStrategy.rollingUpdate.maxUnavailable -}}
{{- if and (has $surge (list "0" "0%")) (has $unavailable (list "0" "0%")) -}}
{{- fail "updateStrategy.rollingUpdate.maxSurge and updateStrategy.rollingUpdate.maxUnavailable are both 0: the rollout could never replace a pod (Kubernetes rejects it). Set maxSurge to at least 1 to keep full capacity during rollouts, or maxUnavailable to at least 1." -}}
{{- end -}}
{{- end -}}

{{- if le (int64 $v.progressDeadlineSeconds) (int64 $v.minReadySeconds) -}}
{{- fail (printf "progressDeadlineSeconds (%d) must be greater than minReadySeconds (%d) (Kubernetes rejects it otherwise). Raise progressDeadlineSeconds so it also covers the model download, or lower minReadySeconds." (int64 $v.progressDeadlineSeconds) (int64 $v.minReadySeconds)) -}}
{{- end -}}

{{- /* Shutdown: preStop sleep, then SIGTERM, the in-app delay and the drain, all inside the grace period. */ -}}
{{- $shutdownSeconds := add $v.lifecycle.preStopSleepSeconds $v.shutdown.delaySeconds $v.shutdown.drainTimeoutSeconds -}}
{{- if le (int64 $v.terminationGracePeriodSeconds) $shutdownSeconds -}}
{{- fail (printf "terminationGracePeriodSeconds (%d) must be greater than lifecycle.preStopSleepSeconds (%d) + shutdown.delaySeconds (%d) + shutdown.drainTimeoutSeconds (%d) = %d, or the kubelet kills the pod mid-drain. Set terminationGracePeriodSeconds to %d or more (a few seconds for the engine to stop), or shorten the sleep or the drain." (int64 $v.terminationGracePeriodSeconds) (int64 $v.lifecycle.preStopSleepSeconds) (int64 $v.shutdown.delaySeconds) (int64 $v.shutdown.drainTimeoutSeconds) $shutdownSeconds (add $shutdownSeconds 5)) -}}
{{- end -}}

{{- /* A drain shorter than the request deadline cuts admitted requests off at every rollout. */ -}}
{{- if lt (mul (int64 $v.shutdown.drainTimeoutSeconds) 1000) (int64 $v.admission.requestTimeoutMs) -}}
{{- fail (printf "shutdown.drainTimeoutSeconds (%d) is shorter than admission.requestTimeoutMs (%d ms): a request admitted just before SIGTERM may run until its deadline, and the drain would cut it off at every rollout and scale-in. Set shutdown.drainTimeoutSeconds to at least %d (and terminationGracePeriodSeconds past the whole shutdown), or lower admission.requestTimeoutMs." (int64 $v.shutdown.drainTimeoutSeconds) (int64 $v.admission.requestTimeoutMs) (div (add (int64 $v.admission.requestTimeoutMs) 999) 1000)) -}}
{{- end -}}

{{- /* Backoffs whose cap is below their first delay: the service refuses them at start (a crash loop). */ -}}
{{- range $b := list (list "model.retry.baseMs" $v.model.retry.baseMs "model.retry.maxMs" $v.model.retry.maxMs) (list "engine.restartBaseMs" $v.engine.restartBaseMs "engine.restartMaxMs" $v.engine.restartMaxMs) -}}
{{- if lt (int64 (index $b 3)) (int64 (index $b 1)) -}}
{{- fail (printf "%s (%d) is less than %s (%d): the longest backoff delay cannot be shorter than the first, and the service refuses this at start (every pod would crash-loop). Raise %s to at least %d, or lower %s." (index $b 2) (int64 (index $b 3)) (index $b 0) (int64 (index $b 1)) (index $b 2) (int64 (index $b 1)) (index $b 0)) -}}
{{- end -}}
{{- end -}}

{{- /* Admission, as the service judges it at start (app/admission-delays.ts). A target left
unset (null) is derived there: min(500, timeout / 2), always shorter than the timeout. An interval
of 0 is derived: max(1000, 2 x target), or half the timeout when that is not longer, never below the target. */ -}}
{{- $adm := $v.admission -}}
{{- $timeout := int64 $adm.requestTimeoutMs -}}
{{- $targetSet := not (kindIs "invalid" $adm.queueDelayTargetMs) -}}
{{- $target := min 500 (div $timeout 2) -}}
{{- if $targetSet -}}{{- $target = int64 $adm.queueDelayTargetMs -}}{{- end -}}
{{- $interval := int64 $adm.queueDelayIntervalMs -}}
{{- if and $targetSet (gt $target 0) (ge $target $timeout) -}}
{{- fail (printf "admission.queueDelayTargetMs (%d) is not shorter than admission.requestTimeoutMs (%d): a request admitted to wait that long would reach its deadline (504) before its turn (the service refuses this setting at start). Lower the target, or raise admission.requestTimeoutMs above it (to %d or more for the derived interval of twice the target)." $target $timeout (add (mul 2 $target) 1)) -}}
{{- end -}}
{{- if gt $interval 0 -}}
{{- /* A waiter admitted to wait up to the target must not be refused before it. */ -}}
{{- if and (gt $target 0) (lt $interval $target) -}}
{{- if $targetSet -}}
{{- fail (printf "admission.queueDelayIntervalMs (%d) is shorter than admission.queueDelayTargetMs (%d): every request admitted to wait up to the target would be refused 503 before that wait ends (the service refuses this setting at start). Set admission.queueDelayIntervalMs to at least the target, or to 0 (derived: twice the target, or half the request timeout when that is shorter), or lower the target." $interval $target) -}}
{{- else -}}
{{- fail (printf "admission.queueDelayIntervalMs (%d) is shorter than the queue delay target the service derives from admission.requestTimeoutMs (%d): every request admitted to wait up to the target would be refused 503 before that wait ends (the service refuses this setting at start). Set admission.queueDelayIntervalMs to at least %d, or to 0 (derived), or set admission.queueDelayTargetMs." $interval $target $target) -}}
{{- end -}}
{{- end -}}
{{- /* ...and every waiter must be refused by the interval before its deadline turns it into a 504. */ -}}
{{- if ge $interval $timeout -}}
{{- fail (printf "admission.queueDelayIntervalMs (%d) is not shorter than admission.requestTimeoutMs (%d): a queued request would reach its deadline (504) before the interval refuses it with a prompt 503 (the service refuses this setting at start). Lower admission.queueDelayIntervalMs (0 derives one that fits) or raise admission.requestTimeoutMs." $interval $timeout) -}}
{{- end -}}
{{- end -}}

{{- /* The byte bound on work must hold at least one full body, or the largest request always runs alone. */ -}}
{{- if lt (int64 $adm.maxInFlightBytes) (int64 $v.limits.maxBodyBytes) -}}
{{- fail (printf "admission.maxInFlightBytes (%d) is less than one full body, limits.maxBodyBytes (%d): every request that large would run alone, and a value meant in MiB would run every request alone (the service refuses this setting at start). Set admission.maxInFlightBytes in bytes, to at least %d; the service's own default is 8 x limits.maxBodyBytes (%d)." (int64 $adm.maxInFlightBytes) (int64 $v.limits.maxBodyBytes) (int64 $v.limits.maxBodyBytes) (mul 8 (int64 $v.limits.maxBodyBytes))) -}}
{{- end -}}

{{- /* Memory and cache for every model copy (Deployment and Knative alike). */ -}}
{{- include "fasttext-edge.guardrails.modelSizing" . -}}

{{- /* Knative: what this chart cannot express there. */ -}}
{{- if $v.knative.enabled -}}
{{- include "fasttext-edge.guardrails.knative" . -}}
{{- else -}}
{{- /* Scaling and disruption. */ -}}
{{- if and $v.pdb.create (not $v.autoscaling.enabled) (eq (int64 $v.replicaCount) 1) -}}
{{- fail "pdb.create is true with replicaCount 1 and autoscaling.enabled false: a PodDisruptionBudget over one pod either blocks every node drain or protects nothing. Set replicaCount to 2 or more, enable autoscaling, or set pdb.create=false." -}}
{{- end -}}
{{- if and $v.pdb.create (ne (toString $v.pdb.minAvailable) "") (ne (toString $v.pdb.maxUnavailable) "") -}}
{{- fail "pdb.minAvailable and pdb.maxUnavailable are both set: a PodDisruptionBudget takes only one. Set the other to \"\"." -}}
{{- end -}}
{{- include "fasttext-edge.guardrails.pdbDrain" . -}}
{{- if and $v.autoscaling.enabled (gt (int64 $v.autoscaling.minReplicas) (int64 $v.autoscaling.maxReplicas)) -}}
{{- fail (printf "autoscaling.minReplicas (%d) is greater than autoscaling.maxReplicas (%d). Raise autoscaling.maxReplicas or lower autoscaling.minReplicas." (int64 $v.autoscaling.minReplicas) (int64 $v.autoscaling.maxReplicas)) -}}
{{- end -}}
{{- end -}}
{{- end -}}
