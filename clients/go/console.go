package client

// DecodeConsole turns one [type, data] entry of an execute answer's console
// list into a ConsoleItem, the way RunCode hands them to a Handler. Programs
// that drive the execute loop themselves with Execute (the Jupyter gateway
// needs to see each step's status next to its output) use it so that media
// and log items are read in one place.
func DecodeConsole(raw [2]any) ConsoleItem { return decodeConsole(raw) }
