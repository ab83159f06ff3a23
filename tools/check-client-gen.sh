#!/usr/bin/env bash
# The client templates still generate: buf.gen.go.yaml and buf.gen.java.yaml
# run for each language whose code generators are on PATH, into clients/gen/
# (ignored by git). A language whose generator is missing is skipped and said
# so; a template that fails with its generators present fails the check.
# (The Python client generates its stubs when it is built: clients/python.)
set -euo pipefail
cd "$(dirname "$0")/.."
have() { command -v "$1" >/dev/null 2>&1; }
ran=() skipped=()
count() { find "$1" -type f -name "$2" 2>/dev/null | wc -l | tr -d ' '; }

if have protoc-gen-go && have protoc-gen-go-grpc; then
  npx buf generate --template buf.gen.go.yaml
  ran+=("go ($(count clients/gen/go '*.go') files in clients/gen/go)")
else
  skipped+=("go: protoc-gen-go and protoc-gen-go-grpc must both be on PATH")
fi

# Debian's protobuf-compiler-grpc-java-plugin installs the plugin as
# grpc_java_plugin; buf looks for protoc-gen-grpc-java.
shim=""
if ! have protoc-gen-grpc-java && have grpc_java_plugin; then
  shim=$(mktemp -d)
  trap 'rm -rf "$shim"' EXIT
  ln -s "$(command -v grpc_java_plugin)" "$shim/protoc-gen-grpc-java"
  PATH="$shim:$PATH"
fi
if have protoc && have protoc-gen-grpc-java; then
  npx buf generate --template buf.gen.java.yaml
  ran+=("java ($(count clients/gen/java '*.java') files in clients/gen/java)")
elif have protoc; then
  # Messages only: the same output dir and options as buf.gen.java.yaml, without the grpc plugin.
  npx buf generate --template '{"version":"v2","clean":true,"managed":{"enabled":true},"plugins":[{"protoc_builtin":"java","out":"clients/gen/java"}]}'
  ran+=("java messages only ($(count clients/gen/java '*.java') files; the grpc-java plugin protoc-gen-grpc-java is not on PATH, so no stubs)")
else
  skipped+=("java: protoc (for its built-in java generator) is not on PATH")
fi

for r in "${ran[@]}"; do echo "client gen: generated $r"; done
for s in "${skipped[@]}"; do echo "client gen: SKIPPED $s"; done
