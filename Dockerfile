# The mvnstream image used by docker-compose.yml: one executable, every role (node, stream, produce, fit).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
# Restore first, from the project files alone, so that a source change does not download the packages again.
COPY Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/MvnStream.Core/MvnStream.Core.csproj src/MvnStream.Core/
COPY src/MvnStream.Cluster/MvnStream.Cluster.csproj src/MvnStream.Cluster/
COPY src/MvnStream.Kafka/MvnStream.Kafka.csproj src/MvnStream.Kafka/
COPY src/MvnStream.Cli/MvnStream.Cli.csproj src/MvnStream.Cli/
RUN dotnet restore src/MvnStream.Cli/MvnStream.Cli.csproj
COPY config/ config/
COPY src/ src/
RUN dotnet publish src/MvnStream.Cli -c Release --no-restore -o /app

# The ASP.NET Core runtime: the HTTP endpoints of issue 9 (/health, /metrics, /model) run on it.
FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
COPY config /app/config
COPY docker/entrypoint.sh /app/entrypoint.sh
# The 'data' volume of docker-compose.yml is created from this directory, so it belongs to the non-root user.
# fonts-dejavu-core: ScottPlot (fit --plot, mvnstream plot) draws its text with the fonts it finds; without any the
# plots are written with no text at all.
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core && rm -rf /var/lib/apt/lists/* \
    && chmod 0755 /app/entrypoint.sh && mkdir -p /data && chown "$APP_UID" /data
# The .NET images define the non-root user 'app' ($APP_UID).
USER $APP_UID
# Nodes bind 0.0.0.0 inside the container only because compose sets MVNSTREAM__Node__Hostname; the default is loopback.
# The entry point then advertises the container's own address unless MVNSTREAM__Node__PublicHostname is set.
ENTRYPOINT ["/app/entrypoint.sh"]
