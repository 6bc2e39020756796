// Runs the toy addon's custom operator between two runs of an onnxruntime-node session.
const [addonPath, customModel, ortModel] = process.argv.slice(2);
const ort = require(require.resolve('onnxruntime-node', { paths: [process.cwd()] }));
(async () => {
  const session = await ort.InferenceSession.create(ortModel);
  const ids = new ort.Tensor('int64', new BigInt64Array(77), [1, 77]);
  await session.run({ input_ids: ids });
  const y = require(addonPath).run(customModel, Float32Array.of(1, 2, 3.5));
  if (y.join() !== '2,4,7') throw new Error(`reatco.Scale2 returned ${y.join()}`);
  await session.run({ input_ids: ids });
  console.log('custom operator ran in an addon session beside onnxruntime-node: [1, 2, 3.5] -> [' + y.join(', ') + ']');
})();
