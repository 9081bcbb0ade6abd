import HubmeterCommands

// Everything lives in HubmeterCommands; this executable only starts it.
HubmeterEntryPoint.prepareProcess()
await HubmeterEntryPoint.run()
