using Vigil.Cli;

Diagnostics.RemoveEndpoints();
return await Cli.MainAsync(args);
