# The mvnstream image used by docker-compose.yml: one executable, every role (node, stream, produce, fit).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY . .
RUN dotnet publish src/MvnStream.Cli -c Release -o /app

FROM mcr.microsoft.com/dotnet/runtime:10.0
WORKDIR /app
COPY --from=build /app .
COPY config /app/config
# Nodes bind 0.0.0.0 inside the container only because compose sets MVNSTREAM_HOSTNAME; the default is loopback.
ENTRYPOINT ["dotnet", "/app/mvnstream.dll"]
