# syntax=docker/dockerfile:1
# The dead-letter service (src/DeadLetters), built from the repository root:
#   docker build -f compose/dockerfiles/dead-letters.Dockerfile -t eventbackbone/dead-letters .
# dead-letters.Dockerfile.dockerignore beside this file keeps bin/ and obj/ of a local build out of the context.
ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0

FROM ${SDK_IMAGE} AS build
WORKDIR /repo
# The settings every project inherits (SDK pin, warnings as errors, analyzers and their severities, exact package pins):
# without them the image would be built differently from what CI checks.
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
# Project files alone first, so the restore layer is reused until a project file or a package pin changes.
COPY src/Contracts/Contracts.csproj src/Contracts/
COPY src/ServiceDefaults/ServiceDefaults.csproj src/ServiceDefaults/
COPY src/Messaging/Messaging.csproj src/Messaging/
COPY src/DeadLetters/DeadLetters.csproj src/DeadLetters/
RUN dotnet restore src/DeadLetters/DeadLetters.csproj
COPY src/Contracts/ src/Contracts/
COPY src/ServiceDefaults/ src/ServiceDefaults/
COPY src/Messaging/ src/Messaging/
COPY src/DeadLetters/ src/DeadLetters/
RUN dotnet publish src/DeadLetters/DeadLetters.csproj -c Release --no-restore -o /app

FROM ${RUNTIME_IMAGE} AS runtime
# curl for the container health check only (the compose file probes /health/ready with it); the base image has none.
RUN apt-get update \
  && apt-get install -y --no-install-recommends curl \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
# The image's unprivileged user (numeric, so Kubernetes' runAsNonRoot can verify it).
USER $APP_UID
EXPOSE 5083
ENTRYPOINT ["dotnet", "EventBackbone.DeadLetters.dll"]
