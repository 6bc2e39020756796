/** Helper status (connected, device, model) and pairing. */
import type { PanelController } from '../state/controller';
import { START_HELPER_HINT } from '../state/error-text';
import type { PanelState } from '../state/panel-state';
import { el, setAttr, setText, show, valueOf, type View } from './dom';

function statusLine(state: PanelState): { tone: 'ok' | 'busy' | 'bad'; text: string } {
  const c = state.connection;
  switch (c.status) {
    case 'connected': {
      const caps = state.capabilities;
      const device = caps ? ` · ${caps.device}${caps.fallbackReason ? ` (${caps.fallbackReason})` : ''} · model ${caps.model.name}` : '';
      return { tone: 'ok', text: `Connected to helper ${c.helperVersion}${device}` };
    }
    case 'connecting':
      return { tone: 'busy', text: 'Connecting to the helper…' };
    case 'unreachable':
      return c.everConnected
        ? { tone: 'busy', text: `Lost the helper; reconnecting in ${Math.ceil(c.retryInMs / 1000)} s…` }
        : { tone: 'bad', text: `The helper is not running. ${START_HELPER_HINT}` };
    case 'no-token':
      return { tone: 'bad', text: START_HELPER_HINT };
    case 'pairing-failed':
      return { tone: 'bad', text: `Pairing failed: ${c.message} Paste the token again.` };
    case 'incompatible':
      return { tone: 'bad', text: c.message };
    case 'stopped':
      return { tone: 'busy', text: 'Starting…' };
  }
}

export function helperStatusView(controller: PanelController): View<PanelState> {
  const dot = el('div', { className: 'status-dot' });
  const text = el('div', { className: 'status-text', attrs: { 'data-test': 'helper-status' } });
  const reconnect = el('sp-action-button', { attrs: { size: 's', quiet: true }, text: 'Reconnect', on: { click: () => controller.reconnect() } });
  const token = el('sp-textfield', { className: 'token-field', attrs: { placeholder: 'Pairing token', 'data-test': 'token' } });
  const pair = el('sp-button', {
    attrs: { size: 's', variant: 'primary', 'data-test': 'pair' },
    text: 'Pair',
    on: { click: () => void controller.pair(valueOf(token)) },
  });
  const pairing = el('div', { className: 'row pairing' }, token, pair);
  const element = el('div', { className: 'section helper-status' }, el('div', { className: 'row' }, dot, text, reconnect), pairing);
  return {
    element,
    update(state) {
      const line = statusLine(state);
      dot.className = `status-dot ${line.tone}`;
      setText(text, line.text);
      const status = state.connection.status;
      show(reconnect, status === 'unreachable' || status === 'incompatible');
      show(pairing, status === 'no-token' || status === 'pairing-failed' || (status === 'unreachable' && !state.connection.everConnected));
      setAttr(pair, 'disabled', status === 'connecting');
    },
  };
}
