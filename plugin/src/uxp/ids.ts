/** Identifiers shared by the code and manifest.json (a test keeps them in step). */
export const PLUGIN_ID = 'com.reatco.edit';
export const PANEL_ID = 'reatcoPanel';
export const COMMAND_ID = 'reatcoEditSelectedClip';
