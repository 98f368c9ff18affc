# syntax=docker/dockerfile:1
# The operators' console (src/Console), built from the repository root:
#   docker build -f compose/dockerfiles/console.Dockerfile -t eventbackbone/console .
# console.Dockerfile.dockerignore beside this file keeps bin/ and obj/ of a local build out of the context.
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0

FROM ${SDK_IMAGE} AS build
WORKDIR /repo
# The settings every project inherits (SDK pin, warnings as errors, analyzers and their severities, exact package pins):
# without them the image would be built differently from what CI checks.
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
# Project files alone first, so the restore layer is reused until a project file or a package pin changes.
COPY src/ServiceDefaults/ServiceDefaults.csproj src/ServiceDefaults/
COPY src/Console/Console.csproj src/Console/
RUN dotnet restore src/Console/Console.csproj
COPY src/ServiceDefaults/ src/ServiceDefaults/
COPY src/Console/ src/Console/
RUN dotnet publish src/Console/Console.csproj -c Release --no-restore -o /app

FROM ${RUNTIME_IMAGE} AS runtime
# curl for the container health check only (the compose file probes /health/ready with it); the base image has none.
RUN apt-get update \
  && apt-get install -y --no-install-recommends curl \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
# The image's unprivileged user (numeric, so Kubernetes' runAsNonRoot can verify it).
USER $APP_UID
EXPOSE 5084
ENTRYPOINT ["dotnet", "EventBackbone.Console.dll"]
