import HubmeterCommands

// Everything lives in HubmeterCommands; this executable only starts it.
await HubmeterEntryPoint.run()
