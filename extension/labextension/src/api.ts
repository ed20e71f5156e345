/**
 * Calls to hubml's server extension under `{baseUrl}hubml/api/`, with
 * Jupyter's own authentication (ServerConnection adds the token and XSRF).
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

const SETTINGS = ServerConnection.makeSettings();

export async function requestAPI<T>(
  path: string,
  init: RequestInit = {},
  query: { [key: string]: string } = {}
): Promise<T> {
  const url =
    URLExt.join(SETTINGS.baseUrl, 'hubml', 'api', path) +
    URLExt.objectToQueryString(query);
  const response = await ServerConnection.makeRequest(url, init, SETTINGS);
  const text = await response.text();
  const data = text ? JSON.parse(text) : {};
  if (!response.ok) {
    // The server answers errors as {"message": ...}: show what hubml said.
    throw new ServerConnection.ResponseError(response, data.message || text);
  }
  return data as T;
}

export function postJSON<T>(path: string, body: unknown = {}): Promise<T> {
  return requestAPI<T>(path, { method: 'POST', body: JSON.stringify(body) });
}
