import type { RouteGroup } from './openapi.ts';
import { v2RouteSpecs } from './v2/router.ts';
import { APPLICATIONS_PREFIX, applicationsRoutes } from '../features/applications/applications.routes.ts';
import type { ApplicationsService } from '../features/applications/applications.service.ts';

/**
 * The JSON APIs' routes by prefix. The routers and the OpenAPI document are built from these, and
 * the security tests list every route from them (specs only keep the services for their handlers,
 * so listing them touches none).
 */
export function apiRouteGroups(
  services: Parameters<typeof v2RouteSpecs>[0] & { applications: ApplicationsService },
): RouteGroup[] {
  return [
    { prefix: '/v2', specs: v2RouteSpecs(services) },
    { prefix: APPLICATIONS_PREFIX, specs: applicationsRoutes(services.applications) },
  ];
}
