/**
 * HTTP client for the gateway's agent-facing enrollment routes and the
 * management API calls of `clawpatrol devices` (bearer token).
 */
import { ENROLL_SECRET_HEADER, type DeviceInfo, type EnrollCreated, type EnrollStatus } from "../web/api.js";

export class GatewayError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** "gw.example.com:8080" → "http://gw.example.com:8080"; trailing slashes dropped. */
export function normalizeGatewayUrl(url: string): string {
  const u = /^https?:\/\//i.test(url) ? url : `http://${url}`;
  const parsed = new URL(u);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/+$/, "")}`;
}

async function call<T>(url: string, init: RequestInit & { timeoutMs?: number } = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(init.timeoutMs ?? 10_000) });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new GatewayError(0, `cannot reach ${new URL(url).origin}: ${cause?.code ?? cause?.message ?? (e as Error).message}`);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    const msg = (body as { error?: string } | undefined)?.error ?? `${res.status} ${res.statusText}`;
    throw new GatewayError(res.status, msg);
  }
  return body as T;
}

const jsonInit = (method: string, body: unknown, headers: Record<string, string> = {}): RequestInit => ({
  method,
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

export function enroll(gateway: string, name: string, publicKey: string): Promise<EnrollCreated> {
  return call<EnrollCreated>(`${gateway}/api/enroll`, jsonInit("POST", { name, publicKey }));
}

export function enrollStatus(gateway: string, id: string, secret: string): Promise<EnrollStatus> {
  return call<EnrollStatus>(`${gateway}/api/enroll/${encodeURIComponent(id)}`, { headers: { [ENROLL_SECRET_HEADER]: secret } });
}

export function gatewayInfo(gateway: string, timeoutMs = 3000): Promise<Record<string, unknown>> {
  return call<Record<string, unknown>>(`${gateway}/info`, { timeoutMs });
}

/** The management API with a bearer token. */
export class ManagementClient {
  constructor(
    readonly gateway: string,
    private readonly token: string,
  ) {}

  #auth(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }

  devices(code?: string): Promise<DeviceInfo[]> {
    const q = code !== undefined ? `?code=${encodeURIComponent(code)}` : "";
    return call<DeviceInfo[]>(`${this.gateway}/api/devices${q}`, { headers: this.#auth() });
  }

  approve(id: string, profile: string): Promise<{ ok: boolean; address?: string }> {
    return call(`${this.gateway}/api/devices/${encodeURIComponent(id)}/approve`, jsonInit("POST", { profile }, this.#auth()));
  }

  block(id: string): Promise<{ ok: boolean }> {
    return call(`${this.gateway}/api/devices/${encodeURIComponent(id)}/block`, { method: "POST", headers: this.#auth() });
  }

  info(): Promise<Record<string, unknown>> {
    return gatewayInfo(this.gateway);
  }
}
