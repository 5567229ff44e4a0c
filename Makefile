# Image URL to use all building/pushing image targets
IMG ?= controller:latest
# The Helm chart; its crds/ are copied from config/crd/bases by make manifests.
CHART ?= charts/update-session-operator

# Get the currently used golang install path (in GOPATH/bin, unless GOBIN is set)
ifeq (,$(shell go env GOBIN))
GOBIN=$(shell go env GOPATH)/bin
else
GOBIN=$(shell go env GOBIN)
endif

# CONTAINER_TOOL defines the container tool to be used for building images.
CONTAINER_TOOL ?= docker

# Setting SHELL to bash allows bash commands to be executed by recipes.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRD, RBAC ClusterRole and webhook objects.
	"$(CONTROLLER_GEN)" rbac:roleName=manager-role crd paths="./..." output:crd:artifacts:config=config/crd/bases
	cp config/crd/bases/*.yaml $(CHART)/crds/
	cp config/rbac/role.yaml $(CHART)/files/manager-role.yaml
	cp config/rbac/leader_election_role.yaml $(CHART)/files/leader-election-role.yaml
	cp config/rbac/login_role.yaml $(CHART)/files/login-role.yaml
	cp config/prometheus/rules.yaml $(CHART)/files/prometheus-rules.yaml
	cp config/grafana/update-session-operator.json $(CHART)/files/grafana-dashboard.json

.PHONY: generate
generate: controller-gen ## Generate DeepCopy methods.
	"$(CONTROLLER_GEN)" object:headerFile="hack/boilerplate.go.txt" paths="./..."

.PHONY: fmt
fmt: ## Run go fmt against code.
	go fmt ./...

.PHONY: vet
vet: ## Run go vet against code.
	go vet ./...

.PHONY: envtest-assets
envtest-assets: ## Print the folder holding kube-apiserver and etcd, building them from source if needed.
	@hack/envtest-assets.sh

.PHONY: s3server
s3server: ## Print the path of the S3-compatible server (versitygw) the tests run, building it from source if needed.
	@hack/s3server.sh

.PHONY: test
test: manifests generate fmt vet kustomize helm s3server ## Run all tests against a real kube-apiserver and etcd (envtest), a real S3 server, and VMware's Python SDK.
	KUSTOMIZE="$(KUSTOMIZE)" HELM="$(HELM)" KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh)" S3SERVER="$$(hack/s3server.sh)" \
		PYTHON_SDK="$$(hack/python-sdk.sh | tail -n 1)" go test ./... -count=1 -timeout 15m
	cd hack/bench && go test ./... -count=1

BENCH_ARGS ?=
.PHONY: bench
bench: build ## Measure the targets (keep-alives vs vcsim and raw PATCH, token and namespace floods of 150 s each, 10,000 sessions, uploads and downloads vs plain Go servers, expiry vs raw DELETE); writes docs/benchmarks.md (about 25 minutes). BENCH_ARGS=-phases=download runs one phase.
	cd hack/bench && KUBEBUILDER_ASSETS="$$(../envtest-assets.sh)" go run . -manager ../../bin/manager -out ../../docs $(BENCH_ARGS)

FUZZTIME ?= 30s
.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME (default 30s); the seed corpora are in each package's testdata/fuzz.
	@for pt in internal/rest:FuzzRoute internal/rest:FuzzBodies internal/rest:FuzzJSONRPC internal/vapi/data:FuzzScanner; do \
		pkg=$${pt%%:*}; target=$${pt##*:}; \
		echo "fuzzing $$target for $(FUZZTIME)"; \
		go test ./$$pkg -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) || exit 1; \
	done

.PHONY: lint
lint: golangci-lint ## Run golangci-lint on the operator and on the benchmark (hack/bench, a module of its own).
	"$(GOLANGCI_LINT)" run
	cd hack/bench && "$(GOLANGCI_LINT)" run --config ../../.golangci.yml

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager binary to bin/manager.
	go build -o bin/manager ./cmd

.PHONY: run
run: build kubectl ## Run the operator on an embedded local control plane; ARGS adds manager flags.
	KUBEBUILDER_ASSETS="$$(hack/envtest-assets.sh)" ./bin/manager --local-control-plane \
		--local-kubeconfig="$(CURDIR)/bin/kubeconfig" --content-store="file://$(CURDIR)/bin/content" \
		--zap-devel $(ARGS)

.PHONY: build-installer
build-installer: manifests kustomize ## Write dist/install.yaml: every object of config/default, with the image IMG.
	@mkdir -p dist
	hack/build-installer.sh "$(KUSTOMIZE)" "$(IMG)" > dist/install.yaml
	@echo "wrote dist/install.yaml with image $(IMG)"

.PHONY: docker-build
docker-build: ## Build the manager's container image.
	$(CONTAINER_TOOL) build -t ${IMG} .

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize ## Install the CRD into the cluster of ~/.kube/config.
	"$(KUSTOMIZE)" build config/crd | "$(KUBECTL)" apply -f -

.PHONY: uninstall
uninstall: manifests kustomize ## Uninstall the CRD from the cluster of ~/.kube/config.
	"$(KUSTOMIZE)" build config/crd | "$(KUBECTL)" delete --ignore-not-found=$(ignore-not-found) -f -

.PHONY: deploy
deploy: manifests kustomize ## Deploy the controller to the cluster of ~/.kube/config.
	cd config/manager && "$(KUSTOMIZE)" edit set image controller=${IMG}
	"$(KUSTOMIZE)" build config/default | "$(KUBECTL)" apply -f -

.PHONY: undeploy
undeploy: kustomize ## Undeploy the controller from the cluster of ~/.kube/config.
	"$(KUSTOMIZE)" build config/default | "$(KUBECTL)" delete --ignore-not-found=$(ignore-not-found) -f -

##@ Dependencies

## Location to install dependencies to
LOCALBIN ?= $(shell pwd)/bin
$(LOCALBIN):
	mkdir -p "$(LOCALBIN)"

## Tool Binaries
KUBECTL ?= $(or $(shell command -v kubectl 2>/dev/null),$(LOCALBIN)/kubectl)
KUSTOMIZE ?= $(LOCALBIN)/kustomize
HELM ?= $(LOCALBIN)/helm
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
GOLANGCI_LINT = $(LOCALBIN)/golangci-lint

## Tool Versions
KUSTOMIZE_VERSION ?= v5.8.0
CONTROLLER_TOOLS_VERSION ?= v0.23.0
HELM_VERSION ?= v3.22.0

.PHONY: python-sdk
python-sdk: ## Extract VMware's Python SDK (PYTHON_SDK_WHEELS, default third_party/vmware-python-sdk) into bin/python-sdk; apt-get its Debian dependencies if missing.
	@hack/python-sdk.sh

.PHONY: kubectl
kubectl: $(LOCALBIN) ## Link bin/kubectl to the kubectl built beside the envtest binaries.
	@ln -sf "$$(hack/envtest-assets.sh)/kubectl" "$(LOCALBIN)/kubectl"

.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Download kustomize locally if necessary.
$(KUSTOMIZE): $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: helm
helm: $(HELM) ## Download helm locally if necessary.
$(HELM): $(LOCALBIN)
	$(call go-install-tool,$(HELM),helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Download controller-gen locally if necessary.
$(CONTROLLER_GEN): $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Build golangci-lint with the logcheck plugin (hack/lint, versions pinned in its go.mod).
$(GOLANGCI_LINT): $(LOCALBIN) hack/lint/go.mod hack/lint/main.go
	cd hack/lint && go build -o "$(GOLANGCI_LINT)" .

# go-install-tool will 'go install' any package with custom target and name of binary, if it doesn't exist
# $1 - target path with name of binary
# $2 - package url which can be installed
# $3 - specific version of package
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ "$$(readlink -- "$(1)" 2>/dev/null)" = "$$(realpath -- "$(1)-$(3)")" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Downloading $${package}" ;\
rm -f "$(1)" ;\
GOBIN="$(LOCALBIN)" go install $${package} ;\
mv "$(LOCALBIN)/$$(basename "$(1)")" "$(1)-$(3)" ;\
} ;\
ln -sf "$$(realpath -- "$(1)-$(3)")" "$(1)"
endef
