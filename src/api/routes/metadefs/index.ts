/** The metadata definitions catalog, /v2/metadefs/…: one file per resource. */
import type { FastifyInstance } from 'fastify';
import type { MetadefsService } from '../../../services/metadefs.js';
import { namespaceRoutes } from './namespaces.js';
import { objectRoutes } from './objects.js';
import { propertyRoutes } from './properties.js';
import { resourceTypeRoutes } from './resource-types.js';
import { tagRoutes } from './tags.js';
import type { ListLimits } from './wire.js';

export function metadefRoutes(app: FastifyInstance, metadefs: MetadefsService, limits: ListLimits, publicEndpoint: string | null): void {
  namespaceRoutes(app, metadefs, limits, publicEndpoint);
  propertyRoutes(app, metadefs);
  objectRoutes(app, metadefs);
  tagRoutes(app, metadefs);
  resourceTypeRoutes(app, metadefs);
}
