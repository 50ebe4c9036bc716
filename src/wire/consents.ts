import { z } from 'zod';

/** /v2/consents on the wire: an application the account authorized, and with which scopes. */
export const consentViewSchema = z.object({
  client_id: z.string(),
  application: z.string(),
  scopes: z.array(z.string()),
  granted_at: z.iso.datetime(),
  updated_at: z.iso.datetime(),
});
export type ConsentView = z.infer<typeof consentViewSchema>;
