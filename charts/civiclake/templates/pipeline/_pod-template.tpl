{{- /*
A pipeline pod template, read by KubernetesPodOperator(pod_template_file=...). The DAG sets the command,
arguments and name; everything about where and how the pod runs comes from here. KubernetesPodOperator needs
the main container to be named "base". Call with (dict "root" $ "task" "ingest" "image" ... "command" ... "args" ...).
*/ -}}
{{- define "civiclake.pipelinePodTemplate" -}}
{{- $root := .root -}}
apiVersion: v1
kind: Pod
metadata:
  name: civiclake-{{ .task }}
  namespace: {{ include "civiclake.pipelineNamespace" $root }}
  labels:
    {{- include "civiclake.labels" (dict "root" $root "component" "pipeline-task") | nindent 4 }}
    civiclake.io/task: {{ .task }}
  annotations:
    checksum/config: {{ include (print $root.Template.BasePath "/pipeline/pipeline-env-configmap.yaml") $root | sha256sum }}
spec:
  serviceAccountName: {{ include "civiclake.pipelineServiceAccountName" $root }}
  automountServiceAccountToken: false
  restartPolicy: Never
  activeDeadlineSeconds: {{ $root.Values.pipeline.activeDeadlineSeconds }}
  enableServiceLinks: false
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  containers:
    - name: base
      image: {{ include "civiclake.image" (dict "root" $root "image" .image) }}
      imagePullPolicy: {{ .image.pullPolicy }}
      command:
        {{- toYaml .command | nindent 8 }}
      args:
        {{- toYaml .args | nindent 8 }}
      envFrom:
        - configMapRef:
            name: {{ include "civiclake.pipelineEnvConfigMapName" $root }}
      env:
        {{- include "civiclake.pipelineSecretEnv" $root | nindent 8 }}
        {{- with .extraEnv }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      resources:
        {{- toYaml .resources | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.containerSecurityContext | nindent 8 }}
      volumeMounts:
        {{- include "civiclake.scratchVolumeMounts" $root | nindent 8 }}
  volumes:
    {{- include "civiclake.scratchVolumes" $root | nindent 4 }}
{{- end -}}
