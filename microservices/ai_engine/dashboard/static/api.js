// Access to the engine API: the optional bearer token (kept in localStorage), JSON fetches and
// the live stream (EventSource cannot send headers, so the token goes in ?token=).
const TOKEN_KEY = "ce_api_token";

export class Unauthorized extends Error {}

export function token() {
  return localStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) localStorage.setItem(TOKEN_KEY, value);
  else localStorage.removeItem(TOKEN_KEY);
}

export async function getJSON(path) {
  const headers = token() ? { Authorization: `Bearer ${token()}` } : {};
  const response = await fetch(path, { headers, cache: "no-store" });
  if (response.status === 401) throw new Unauthorized(path);
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

// Opens the live stream; onEvent gets each parsed event, onState "live" | "reconnecting".
export function openStream(onEvent, onState) {
  const query = token() ? `?token=${encodeURIComponent(token())}` : "";
  const source = new EventSource(`/api/v1/stream${query}`);
  source.onopen = () => onState("live");
  source.onerror = () => onState("reconnecting");
  source.onmessage = (message) => {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch (error) {
      return; // a partial frame: the next one is whole
    }
    onEvent(event);
  };
  return source;
}
