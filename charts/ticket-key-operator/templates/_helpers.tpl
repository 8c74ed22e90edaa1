{{/* Chart name, truncated to 63 characters (a DNS label). */}}
{{- define "ticket-key-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: the release name, prefixed to the chart name unless it already contains it. */}}
{{- define "ticket-key-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "ticket-key-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The recommended app.kubernetes.io labels. */}}
{{- define "ticket-key-operator.labels" -}}
helm.sh/chart: {{ include "ticket-key-operator.chart" . }}
{{ include "ticket-key-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/part-of: ticket-key-operator
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "ticket-key-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ticket-key-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "ticket-key-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "ticket-key-operator.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "ticket-key-operator.leaseName" -}}
{{- default (include "ticket-key-operator.fullname" .) .Values.leaderElection.leaseName }}
{{- end }}

{{- define "ticket-key-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The controller's rules in a watched namespace (a Role per namespace, or one ClusterRole for
all). Exactly the requests src/controller/ makes; test/integration/rbac.test.ts pins them.
*/}}
{{- define "ticket-key-operator.controllerRules" -}}
# The policy informer lists and watches; get is what a list already reveals.
- apiGroups: ["ticketkeys.dev"]
  resources: ["ticketkeypolicies"]
  verbs: ["get", "list", "watch"]
# Status is written with server-side apply.
- apiGroups: ["ticketkeys.dev"]
  resources: ["ticketkeypolicies/status"]
  verbs: ["patch"]
# The Secret's ownerReference sets blockOwnerDeletion, which clusters running the
# OwnerReferencesPermissionEnforcement admission plugin allow only with this permission.
- apiGroups: ["ticketkeys.dev"]
  resources: ["ticketkeypolicies/finalizers"]
  verbs: ["update"]
# Key Secrets: informer (list, watch; by label, which RBAC cannot express), a direct read for
# a name the informer cannot see (get), POST of a new Secret (create), server-side apply
# (patch). Never update or delete: the garbage collector deletes a Secret with its policy.
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list", "watch", "create", "patch"]
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create"]
{{- end }}
