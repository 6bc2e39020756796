/**
 * The Spectrum Web Components the panel uses, pinned to 0.37.0 (the version Premiere's UXP locks):
 * UXP wrappers where they exist. Text fields, text areas, sliders, checkboxes, pickers and progress
 * bars are UXP's built-in widgets (no 0.37.0 package for them on the registry; on the dev page,
 * dev/widgets.ts stands in for them).
 */
import '@spectrum-web-components/theme/sp-theme.js';
import '@spectrum-web-components/theme/theme-dark.js';
import '@spectrum-web-components/theme/scale-medium.js';
import '@swc-uxp-wrappers/button/sp-button.js';
import '@swc-uxp-wrappers/action-button/sp-action-button.js';
import '@swc-uxp-wrappers/divider/sp-divider.js';
