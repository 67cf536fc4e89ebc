import { outputShape, type LayerSpec } from '../model/build.js';

/** A layer that cannot take the shape it is given. */
export interface LayerShapeProblem {
  /** Index into model.layers. */
  index: number;
  message: string;
}

function describe(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Walks the layers from the per-example `inputShape` and lists every layer that cannot take what
 * the layer before it outputs (a dense layer after a spatial one without a flatten, a conv2d or
 * pooling layer on a flat input, a window larger than a 'valid' input). Stops at the first one.
 */
export function checkLayerShapes(inputShape: readonly number[], layers: readonly LayerSpec[]): LayerShapeProblem[] {
  let shape = [...inputShape];
  for (const [index, layer] of layers.entries()) {
    const from = index === 0 ? `model.inputShape ${describe(shape)}` : `layer ${index - 1}'s output ${describe(shape)}`;
    if ((layer.type === 'dense' || layer.type === 'lstm') && shape.length !== 1) {
      return [{ index, message: `a ${layer.type} layer needs a flat input but gets ${from}: put { "type": "flatten" } before it` }];
    }
    if ((layer.type === 'conv2d' || layer.type === 'maxpool' || layer.type === 'avgpool') && shape.length !== 3) {
      const hint = index === 0 ? ' (set model.inputShape, e.g. [28, 28, 1])' : '';
      return [{ index, message: `a ${layer.type} layer needs an input of shape [height, width, channels] but gets ${from}${hint}` }];
    }
    try {
      shape = outputShape(layer, shape);
    } catch (error) {
      return [{ index, message: `${(error as Error).message} (input ${from})` }];
    }
  }
  return [];
}

/** Per-example output shape of every layer, from `inputShape` (the layers must fit: see checkLayerShapes). */
export function layerOutputShapes(inputShape: readonly number[], layers: readonly LayerSpec[]): number[][] {
  const shapes: number[][] = [];
  let shape = [...inputShape];
  for (const layer of layers) {
    shape = outputShape(layer, shape);
    shapes.push(shape);
  }
  return shapes;
}
