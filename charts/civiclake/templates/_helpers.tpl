{{/*
Names, labels and images.
*/}}
{{- define "civiclake.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "civiclake.fullname" -}}
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

{{- define "civiclake.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels; call with (dict "root" $ "component" "bootstrap"). */}}
{{- define "civiclake.selectorLabels" -}}
app.kubernetes.io/name: {{ include "civiclake.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/* Every object's labels; call with (dict "root" $ "component" "bootstrap"). */}}
{{- define "civiclake.labels" -}}
{{ include "civiclake.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: civiclake
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
helm.sh/chart: {{ include "civiclake.chart" .root }}
{{- with .root.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Image reference; call with (dict "root" $ "image" .Values.images.ingest). */}}
{{- define "civiclake.image" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (default .root.Chart.AppVersion .image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
Where each service lives: the in-chart dependency when it is enabled, the external endpoint otherwise.
Dependency Service names follow each upstream chart's naming for a release whose name does not contain the
dependency's name (release "civiclake" -> "civiclake-trino", "civiclake-minio", ...).
*/}}
{{- define "civiclake.s3Endpoint" -}}
{{- if .Values.minio.enabled -}}
{{- printf "http://%s-minio:9000" .Release.Name -}}
{{- else -}}
{{- required "external.s3Endpoint is required when minio.enabled is false" .Values.external.s3Endpoint -}}
{{- end -}}
{{- end -}}

{{- define "civiclake.postgresqlHost" -}}
{{- if .Values.postgresql.enabled -}}
{{- printf "%s-postgresql" .Release.Name -}}
{{- else -}}
{{- required "external.postgresqlHost is required when postgresql.enabled is false" .Values.external.postgresqlHost -}}
{{- end -}}
{{- end -}}

{{- define "civiclake.trinoUrl" -}}
{{- if .Values.trino.enabled -}}
{{- printf "http://%s-trino:8080" .Release.Name -}}
{{- else -}}
{{- required "external.trinoUrl is required when trino.enabled is false" .Values.external.trinoUrl -}}
{{- end -}}
{{- end -}}

{{- define "civiclake.pushgatewayUrl" -}}
{{- if .Values.prometheus.enabled -}}
{{- printf "http://%s-prometheus-pushgateway:9091" .Release.Name -}}
{{- else -}}
{{- required "external.pushgatewayUrl is required when prometheus.enabled is false" .Values.external.pushgatewayUrl -}}
{{- end -}}
{{- end -}}

{{- define "civiclake.warehouseDir" -}}
{{- printf "s3://%s/%s" .Values.lake.bucket .Values.lake.warehousePrefix -}}
{{- end -}}

{{/* JDBC URL Trino's Iceberg JDBC catalog connects with. */}}
{{- define "civiclake.catalogJdbcUrl" -}}
{{- printf "jdbc:postgresql://%s:%d/%s" (include "civiclake.postgresqlHost" .) (int .Values.catalog.port) .Values.catalog.database -}}
{{- end -}}

{{/*
SQLAlchemy URL pyiceberg's SQL catalog connects with: the same host, port, database and role as the JDBC URL.
The password is expanded by Kubernetes from the ICEBERG_CATALOG_PASSWORD variable defined just before it.
*/}}
{{- define "civiclake.catalogUri" -}}
{{- printf "postgresql+psycopg2://%s:$(ICEBERG_CATALOG_PASSWORD)@%s:%d/%s" .Values.catalog.user (include "civiclake.postgresqlHost" .) (int .Values.catalog.port) .Values.catalog.database -}}
{{- end -}}

{{- define "civiclake.pipelineNamespace" -}}
{{- default .Release.Namespace .Values.pipeline.namespace -}}
{{- end -}}

{{- define "civiclake.pipelineServiceAccountName" -}}
{{- if .Values.pipeline.serviceAccount.create -}}
{{- default (printf "%s-pipeline" (include "civiclake.fullname" .)) .Values.pipeline.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.pipeline.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Names of objects that dependencies reference. Those a dependency can name through a template (`tpl` in Airflow's
extraEnvFrom and extraVolumes) carry the release name. Those a dependency names in plain values (Trino's envFrom,
PostgreSQL's initdb ConfigMap, Prometheus' ConfigMap mounts) have a fixed `civiclake-` name, so the values work
under any release name; templates/validate.yaml checks each reference. One civiclake release per namespace.
*/}}
{{- define "civiclake.pipelineEnvConfigMapName" -}}{{ printf "%s-pipeline-env" .Release.Name }}{{- end -}}
{{- define "civiclake.podTemplatesConfigMapName" -}}{{ printf "%s-pipeline-pod-templates" .Release.Name }}{{- end -}}
{{- define "civiclake.airflowEnvConfigMapName" -}}{{ printf "%s-airflow-civiclake" .Release.Name }}{{- end -}}
{{- define "civiclake.registryConfigMapName" -}}{{ printf "%s-registry" .Release.Name }}{{- end -}}
{{- /*
Not `civiclake-trino-catalog`: that is the Trino chart's own ConfigMap (`<trino fullname>-catalog`, its catalog
files mounted at /etc/trino/catalog) for the release `civiclake`. Ours only holds environment variables.
*/ -}}
{{- define "civiclake.trinoCatalogConfigMapName" -}}civiclake-trino-catalog-env{{- end -}}
{{- define "civiclake.trinoAccessConfigMapName" -}}civiclake-trino-access{{- end -}}
{{- define "civiclake.auditReceiverName" -}}civiclake-audit-receiver{{- end -}}
{{- define "civiclake.rulesConfigMapName" -}}civiclake-prometheus-rules{{- end -}}
{{- define "civiclake.postgresqlInitdbConfigMapName" -}}civiclake-postgresql-initdb{{- end -}}

{{/*
Environment of every pod that runs civiclake code (pipeline tasks, bootstrap): the non-secret settings come from
the pipeline ConfigMap (envFrom), the credentials from the Secrets below. Order matters: ICEBERG_CATALOG_PASSWORD
must precede CIVICLAKE__CATALOG__URI, which expands it.
*/}}
{{- define "civiclake.pipelineSecretEnv" -}}
- name: CIVICLAKE__S3__ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ .Values.s3.existingSecret }}
      key: {{ .Values.s3.accessKeyIdKey }}
- name: CIVICLAKE__S3__SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.s3.existingSecret }}
      key: {{ .Values.s3.secretAccessKeyKey }}
- name: ICEBERG_CATALOG_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .Values.catalog.existingSecret }}
      key: {{ .Values.catalog.passwordKey }}
- name: CIVICLAKE__CATALOG__URI
  value: {{ include "civiclake.catalogUri" . | quote }}
- name: CIVICLAKE__PRIVACY__PSEUDONYMISATION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ .Values.privacy.existingSecret }}
      key: {{ .Values.privacy.keyKey }}
{{- end -}}

{{/* Scratch volumes of a read-only-root civiclake container; call with the root context. */}}
{{- define "civiclake.scratchVolumes" -}}
- name: civiclake-home
  emptyDir:
    sizeLimit: {{ .Values.pipeline.homeSizeLimit }}
- name: tmp
  emptyDir:
    sizeLimit: 1Gi
{{- if .Values.registry.inline }}
- name: registry
  configMap:
    name: {{ include "civiclake.registryConfigMapName" . }}
{{- end }}
{{- end -}}

{{- define "civiclake.scratchVolumeMounts" -}}
- name: civiclake-home
  mountPath: {{ .Values.pipeline.home }}
- name: tmp
  mountPath: /tmp
{{- if .Values.registry.inline }}
- name: registry
  mountPath: /etc/civiclake/registry
  readOnly: true
{{- end }}
{{- end -}}

{{/* Selector of the pods of a dependency, for NetworkPolicies; call with (dict "root" $ "peer" "trino"). */}}
{{- define "civiclake.peerSelector" -}}
{{- $release := .root.Release.Name -}}
{{- if eq .peer "trino" }}
app.kubernetes.io/name: trino
app.kubernetes.io/instance: {{ $release }}
{{- else if eq .peer "postgresql" }}
app.kubernetes.io/name: postgresql
app.kubernetes.io/instance: {{ $release }}
{{- else if eq .peer "minio" }}
app: minio
release: {{ $release }}
{{- else if eq .peer "airflow" }}
tier: airflow
release: {{ $release }}
{{- else if eq .peer "prometheus" }}
app.kubernetes.io/name: prometheus
app.kubernetes.io/instance: {{ $release }}
{{- else if eq .peer "pushgateway" }}
app.kubernetes.io/name: prometheus-pushgateway
app.kubernetes.io/instance: {{ $release }}
{{- else if eq .peer "alertmanager" }}
app.kubernetes.io/name: alertmanager
app.kubernetes.io/instance: {{ $release }}
{{- else if eq .peer "grafana" }}
app.kubernetes.io/name: grafana
app.kubernetes.io/instance: {{ $release }}
{{- else }}
app.kubernetes.io/name: {{ include "civiclake.name" .root }}
app.kubernetes.io/instance: {{ $release }}
app.kubernetes.io/component: {{ .peer }}
{{- end }}
{{- end -}}


{{/*
The ServiceAccounts that start pipeline pods, comma-separated. KubernetesPodOperator creates the pod from inside
the Airflow task, so the account is that of the pod the task runs in, which the executor decides:
- LocalExecutor: tasks run in the scheduler pod -> the scheduler's account;
- KubernetesExecutor: each task runs in a worker pod of its own -> the account of those worker pods;
- CeleryExecutor: tasks run in the Celery worker pods -> the workers' account.
An entry of airflow.executor may be a class path or carry an alias (`alias:path.to.Executor`); several entries
are comma-separated (Airflow 3 multiple executors).

Account names follow the Apache Airflow chart 1.22.0 (useStandardNaming false): `<section>.serviceAccount.name`,
else `<release>-<suffix>` when the chart creates the account (`create`, true by default), else the namespace's
`default` account, which civiclake refuses to grant anything. The KubernetesExecutor worker pods use
workers.kubernetes.serviceAccount once its `create` is set (suffix `worker-kubernetes`), else the deprecated
workers.serviceAccount (suffix `worker`); Celery workers use workers.serviceAccount (1.22.0 ignores
workers.celery.serviceAccount in its bindings). tests/deploy/test_upstream_charts.py records these facts.
*/}}
{{- define "civiclake.airflowPodLaunchers" -}}
{{- $airflow := .Values.airflow -}}
{{- $release := .Release.Name -}}
{{- $accounts := list -}}
{{- range $entry := splitList "," (toString $airflow.executor) -}}
{{- $class := trim $entry | splitList ":" | last | splitList "." | last -}}
{{- $account := dict -}}
{{- if eq $class "LocalExecutor" -}}
{{- $account = dict "section" "airflow.scheduler.serviceAccount" "sa" (dig "scheduler" "serviceAccount" dict $airflow) "suffix" "scheduler" -}}
{{- else if eq $class "KubernetesExecutor" -}}
{{- $dedicated := dig "workers" "kubernetes" "serviceAccount" dict $airflow -}}
{{- if and (hasKey $dedicated "create") (not (kindIs "invalid" $dedicated.create)) -}}
{{- $account = dict "section" "airflow.workers.kubernetes.serviceAccount" "sa" $dedicated "suffix" "worker-kubernetes" -}}
{{- else -}}
{{- $account = dict "section" "airflow.workers.serviceAccount" "sa" (dig "workers" "serviceAccount" dict $airflow) "suffix" "worker" -}}
{{- end -}}
{{- else if eq $class "CeleryExecutor" -}}
{{- $account = dict "section" "airflow.workers.serviceAccount" "sa" (dig "workers" "serviceAccount" dict $airflow) "suffix" "worker" -}}
{{- else -}}
{{- fail (printf "airflow.executor %q: civiclake knows which account starts pipeline pods for LocalExecutor, KubernetesExecutor and CeleryExecutor only" (trim $entry)) -}}
{{- end -}}
{{- $sa := $account.sa -}}
{{- $create := ternary (get $sa "create") true (hasKey $sa "create") -}}
{{- $name := toString (get $sa "name") -}}
{{- if and (not $name) $create -}}
{{- $name = printf "%s-%s" $release $account.suffix -}}
{{- end -}}
{{- if not $name -}}
{{- fail (printf "%s: with create=false and no name, %s tasks would run as the namespace's default ServiceAccount; name the account they run as" $account.section $class) -}}
{{- end -}}
{{- $accounts = append $accounts $name -}}
{{- end -}}
{{- $accounts | uniq | join "," -}}
{{- end -}}
