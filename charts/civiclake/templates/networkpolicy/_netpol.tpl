{{- /*
NetworkPolicy building blocks. A peer is one of: a civiclake component (pipeline-task, bootstrap, test), a
dependency (trino, postgresql, minio, airflow, prometheus, pushgateway, alertmanager, grafana), or "ingress-controller".
Ports are container ports: policies see traffic after Service translation.
*/ -}}

{{- /* Namespace a peer runs in. */ -}}
{{- define "civiclake.netpol.peerNamespace" -}}
{{- if has .peer (list "pipeline-task" "bootstrap") -}}
{{- include "civiclake.pipelineNamespace" .root -}}
{{- else -}}
{{- .root.Release.Namespace -}}
{{- end -}}
{{- end -}}

{{- /* One `from`/`to` item selecting a peer's pods; call with (dict "root" $ "peer" "trino"). */ -}}
{{- define "civiclake.netpol.peer" -}}
{{- if eq .peer "ingress-controller" -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ .root.Values.networkPolicy.ingressController.namespace }}
  podSelector:
    matchLabels:
      {{- toYaml .root.Values.networkPolicy.ingressController.podLabels | nindent 6 }}
{{- else -}}
- namespaceSelector:
    matchLabels:
      kubernetes.io/metadata.name: {{ include "civiclake.netpol.peerNamespace" . }}
  podSelector:
    matchLabels:
      {{- include "civiclake.peerSelector" . | nindent 6 }}
{{- end -}}
{{- end -}}

{{- /*
An egress rule to a dependency: its pods when it runs in the chart, any address on its port when it is external
(its address is not known here). Call with (dict "root" $ "peer" "minio" "enabled" bool "ports" (list 9000)).
*/ -}}
{{- define "civiclake.netpol.egressTo" -}}
- to:
    {{- if .enabled }}
    {{- include "civiclake.netpol.peer" . | nindent 4 }}
    {{- else }}
    - ipBlock:
        cidr: 0.0.0.0/0
    {{- end }}
  ports:
    {{- range .ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- end -}}

{{- define "civiclake.netpol.egressKubeApi" -}}
- to:
    {{- range .Values.networkPolicy.kubeApiServer.cidrs }}
    - ipBlock:
        cidr: {{ . }}
    {{- end }}
  ports:
    {{- range .Values.networkPolicy.kubeApiServer.ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- end -}}

{{- define "civiclake.netpol.egressInternet" -}}
{{ include "civiclake.netpol.egressCidrs" .Values.networkPolicy.internetEgress }}
{{- end -}}

{{- /*
An egress rule to addresses outside the cluster; call with a dict of `cidrs`, `except` and `ports`. No CIDR, no
rule (a rule with an empty `to` would allow every destination).
*/ -}}
{{- define "civiclake.netpol.egressCidrs" -}}
{{- if .cidrs -}}
{{- $except := .except -}}
- to:
    {{- range .cidrs }}
    - ipBlock:
        cidr: {{ . }}
        {{- with $except }}
        except:
          {{- toYaml . | nindent 10 }}
        {{- end }}
    {{- end }}
  ports:
    {{- range .ports }}
    - protocol: TCP
      port: {{ . }}
    {{- end }}
{{- end -}}
{{- end -}}

{{- /* Port of a URL (explicit, else 443 for https, 80 otherwise). */ -}}
{{- define "civiclake.netpol.urlPort" -}}
{{- $url := urlParse . -}}
{{- $parts := splitList ":" $url.host -}}
{{- if gt (len $parts) 1 -}}{{ index $parts 1 }}{{- else if eq $url.scheme "https" -}}443{{- else -}}80{{- end -}}
{{- end -}}

{{- /* Egress rules to the lake (S3) and the catalog database, shared by pipeline tasks, bootstrap and Trino. */ -}}
{{- define "civiclake.netpol.egressLakeAndCatalog" -}}
{{ include "civiclake.netpol.egressTo" (dict "root" . "peer" "minio" "enabled" .Values.minio.enabled "ports" (ternary (list 9000) (list (include "civiclake.netpol.urlPort" (include "civiclake.s3Endpoint" .))) .Values.minio.enabled)) }}
{{ include "civiclake.netpol.egressTo" (dict "root" . "peer" "postgresql" "enabled" .Values.postgresql.enabled "ports" (list .Values.catalog.port)) }}
{{- end -}}
