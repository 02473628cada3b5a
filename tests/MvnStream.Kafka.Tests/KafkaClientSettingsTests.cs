namespace MvnStream.Kafka.Tests;

public sealed class KafkaClientSettingsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("mvnstream-kafka-settings-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteFile(string name, string text)
    {
        var path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void Properties_file_is_read_with_comments_blank_lines_and_values_containing_equals()
    {
        var path = WriteFile("kafka.properties", """
            # TLS and SASL
            security.protocol = SASL_SSL

              ! also a comment
            sasl.mechanism=SCRAM-SHA-512
            sasl.jaas.config=a=b;c=d
            empty.value=
            """);
        var p = KafkaClientSettings.ReadPropertiesFile(path);
        Assert.Equal(
            [new("security.protocol", "SASL_SSL"), new("sasl.mechanism", "SCRAM-SHA-512"), new("sasl.jaas.config", "a=b;c=d"), new KeyValuePair<string, string>("empty.value", "")],
            p);
    }

    [Fact]
    public void Malformed_file_line_is_reported_with_its_line_number_and_without_its_text()
    {
        var path = WriteFile("kafka.properties", "security.protocol=SSL\n# comment\nsasl.password hunter2\n");
        var e = Assert.Throws<KafkaSettingsException>(() => KafkaClientSettings.Create("h:1", propertiesFile: path));
        Assert.StartsWith("line 3 of kafka.properties: expected key=value", e.Message);
        Assert.DoesNotContain("hunter2", e.Message);
    }

    [Fact]
    public void Colon_separator_gets_a_hint_and_an_empty_key_is_rejected()
    {
        var path = WriteFile("colon.properties", "sasl.password: hunter2\n");
        var e = Assert.Throws<KafkaSettingsException>(() => KafkaClientSettings.Create("h:1", propertiesFile: path));
        Assert.Equal("line 1 of colon.properties: expected key=value (':' is not a separator here; write key=value)", e.Message);

        e = Assert.Throws<KafkaSettingsException>(() => KafkaClientSettings.Create("h:1", ["=value"]));
        Assert.Equal("--kafka-property #1: expected key=value, but the key before '=' is empty", e.Message);
    }

    [Fact]
    public void Malformed_command_line_property_is_quoted_unless_it_looks_secret()
    {
        var e = Assert.Throws<KafkaSettingsException>(() => KafkaClientSettings.Create("h:1", ["acks=all", "linger"]));
        Assert.Equal("--kafka-property #2: expected key=value, got 'linger'", e.Message);

        e = Assert.Throws<KafkaSettingsException>(() => KafkaClientSettings.Create("h:1", ["sasl.password:hunter2"]));
        Assert.DoesNotContain("hunter2", e.Message);
        Assert.StartsWith("--kafka-property #1: expected key=value", e.Message);
    }

    [Fact]
    public void Missing_properties_file_is_a_settings_error()
    {
        var e = Assert.Throws<KafkaSettingsException>(() => KafkaClientSettings.Create("h:1", propertiesFile: Path.Combine(_dir, "nope.properties")));
        Assert.Contains("cannot read the Kafka properties file", e.Message);
    }

    [Fact]
    public void Command_line_properties_override_the_file_and_the_explicit_bootstrap_overrides_both()
    {
        var path = WriteFile("k.properties", "bootstrap.servers=file:1\nacks=1\nlinger.ms=7\n");
        var s = KafkaClientSettings.Create("explicit:9092", ["acks=all", "bootstrap.servers=prop:2"], path);
        Assert.Equal("explicit:9092", s.Bootstrap);
        Assert.Equal("all", s.Get("acks"));
        Assert.Equal("7", s.Get("linger.ms"));
        Assert.Null(s.Get("bootstrap.servers"));
        Assert.Equal(2, s.Properties.Count);

        var fromFile = KafkaClientSettings.Create(null, propertiesFile: path);
        Assert.Equal("file:1", fromFile.Bootstrap);
        var fromProperty = KafkaClientSettings.Create("", ["bootstrap.servers=a:1, b:2"], path);
        Assert.Equal("a:1,b:2", fromProperty.Bootstrap);
    }

    [Fact]
    public void Missing_or_malformed_bootstrap_is_a_settings_error()
    {
        var e = Assert.Throws<KafkaSettingsException>(() => KafkaClientSettings.Create(null));
        Assert.Contains("--bootstrap", e.Message);
        e = Assert.Throws<KafkaSettingsException>(() => KafkaClientSettings.Create("localhost"));
        Assert.Equal("bootstrap server 'localhost': expected HOST:PORT (port 1-65535), e.g. 127.0.0.1:9092", e.Message);
        Assert.Throws<KafkaSettingsException>(() => KafkaClientSettings.Create("a:1,b:99999"));
        Assert.Throws<KafkaSettingsException>(() => KafkaClientSettings.Create(" , "));
    }

    [Theory]
    [InlineData("sasl.password", true)]
    [InlineData("ssl.key.password", true)]
    [InlineData("ssl.keystore.password", true)]
    [InlineData("sasl.oauthbearer.client.secret", true)]
    [InlineData("sasl.oauthbearer.config", true)]
    [InlineData("sasl.jaas.config", true)]
    [InlineData("ssl.key.pem", true)]
    [InlineData("ssl_key", true)]
    [InlineData("sasl.kerberos.keytab", true)]
    [InlineData("SASL.PASSWORD", true)]
    [InlineData("ssl.key.location", false)]
    [InlineData("ssl.keystore.location", false)]
    [InlineData("ssl.ca.location", false)]
    [InlineData("sasl.username", false)]
    [InlineData("sasl.mechanism", false)]
    [InlineData("security.protocol", false)]
    [InlineData("socket.keepalive.enable", false)]
    public void Secret_keys(string key, bool secret) => Assert.Equal(secret, KafkaClientSettings.IsSecret(key));

    [Fact]
    public void Describe_masks_secrets_and_shows_everything_else()
    {
        var path = WriteFile("k.properties", "ssl.key.password=pem-pass\nssl.key.location=/etc/k.pem\n");
        var s = KafkaClientSettings.Create("b:9093",
            ["security.protocol=SASL_SSL", "sasl.mechanism=PLAIN", "sasl.username=alice", "sasl.password=hunter2", "sasl.oauthbearer.client.secret=s3"], path);
        string text = s.Describe();
        Assert.Equal("bootstrap=b:9093 ssl.key.password=**** ssl.key.location=/etc/k.pem security.protocol=SASL_SSL sasl.mechanism=PLAIN sasl.username=alice sasl.password=**** sasl.oauthbearer.client.secret=****", text);
        Assert.Equal(text, s.ToString());
        Assert.DoesNotContain("hunter2", text);
        Assert.DoesNotContain("pem-pass", text);
    }

    [Fact]
    public void Client_configs_layer_defaults_then_properties_then_bootstrap()
    {
        var s = KafkaClientSettings.Create("b:1", ["message.timeout.ms=5000", "security.protocol=SSL", "auto.offset.reset=latest"]);
        var p = s.ProducerConfig();
        Assert.Equal("b:1", p.BootstrapServers);
        Assert.Equal(5000, p.MessageTimeoutMs);
        Assert.Equal(Confluent.Kafka.SecurityProtocol.Ssl, p.SecurityProtocol);
        Assert.Equal(10000, p.SocketConnectionSetupTimeoutMs);

        var c = s.ConsumerConfig("g1");
        Assert.Equal("g1", c.GroupId);
        Assert.Equal(Confluent.Kafka.AutoOffsetReset.Latest, c.AutoOffsetReset);
        Assert.Equal(10000, c.TopicMetadataRefreshIntervalMs);

        var a = s.AdminClientConfig();
        Assert.Equal("b:1", a.BootstrapServers);
        Assert.Equal(Confluent.Kafka.SecurityProtocol.Ssl, a.SecurityProtocol);

        var withDefaults = KafkaClientSettings.Create("b:1").ProducerConfig([new("linger.ms", "50")]);
        Assert.Equal(50, withDefaults.LingerMs);
        Assert.Equal(30000, withDefaults.MessageTimeoutMs);
    }
}
