import { storedToken, type WsMessage } from './api.js';

/**
 * The /ws connection: reconnects with backoff, reports its state, passes
 * every message on.
 */
export function connectLive(
  onMessage: (m: WsMessage) => void,
  onState: (s: 'open' | 'closed') => void,
  /** Called on every (re)connect after the token was sent, to send subscriptions. */
  onOpen?: (send: (o: object) => void) => void,
): () => void {
  let ws: WebSocket | undefined;
  let attempt = 0;
  let stopped = false;
  let timer: number | undefined;
  const open = () => {
    const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
    ws = new WebSocket(`${proto}//${location.host}/ws`);
    ws.onopen = () => {
      attempt = 0;
      // the token goes in the first message, never in the URL
      const token = storedToken();
      if (token) ws?.send(JSON.stringify({ type: 'auth', token }));
      onOpen?.((o) => ws?.send(JSON.stringify(o)));
      onState('open');
    };
    ws.onmessage = (ev) => {
      try {
        onMessage(JSON.parse(String(ev.data)) as WsMessage);
      } catch {
        // ignore a message we cannot read
      }
    };
    ws.onclose = () => {
      onState('closed');
      if (stopped) return;
      const delay = Math.min(10_000, 250 * 2 ** attempt++) * (0.5 + Math.random() / 2);
      timer = window.setTimeout(open, delay);
    };
  };
  open();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
    ws?.close();
  };
}
