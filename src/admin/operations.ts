/**
 * How a route module describes its routes for the OpenAPI document (src/admin/openapi.ts):
 * one `ApiOperation` per method and path, next to the zod schema that validates its body —
 * the document is generated from that same schema, never from a copy of its shape.
 */
import type { z } from 'zod';

export interface ApiParameter {
  name: string;
  in: 'query' | 'path';
  description: string;
  /** JSON Schema of the value; a string when omitted */
  schema?: Record<string, unknown>;
  required?: boolean;
  /** a query parameter that may repeat */
  repeats?: boolean;
}

export interface ApiOperation {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** as the route module registers it, relative to its router (`/privacy/groups/:id`) */
  path: string;
  summary: string;
  description?: string;
  /** the schema that validates the JSON body, exactly the one the handler parses with */
  body?: z.ZodType;
  query?: readonly ApiParameter[];
  /** status → what it means; 2xx answers are JSON objects unless `content` says otherwise */
  responses: Record<number, string>;
  /** the media type of the 200 answer when it is not JSON (`text/plain`, ...) */
  content?: readonly string[];
  /** no authentication (health, readiness, metrics) */
  public?: boolean;
}

/** A query parameter holding a string. */
export const query = (name: string, description: string, extra: Partial<ApiParameter> = {}): ApiParameter => ({ name, in: 'query', description, ...extra });
