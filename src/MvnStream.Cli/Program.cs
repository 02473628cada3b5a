using MvnStream.Cli;

return await CliApp.RunAsync(args);
