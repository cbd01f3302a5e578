using Vigil.Cli;

return await Cli.MainAsync(args);
