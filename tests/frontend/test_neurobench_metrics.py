"""NeuroBench's metrics in NumPy (`frontend.neurobench`) on networks small enough to count by
hand; each expected value is derived in the comment above it."""

import numpy as np
import pytest

from flexspim.config import LayerConfig
from flexspim.frontend.neurobench import neurobench_metrics
from flexspim.golden.layers import ConvLayer, FCLayer
from flexspim.golden.network import Network

CFG = LayerConfig(bw=3, bv=8, threshold=1)


def test_one_fc_layer():
    w = np.array([[1, 0, 2], [0, 0, -1]])
    net = Network([FCLayer(w, CFG)])
    # step 1: inputs 0 and 2; step 2: input 1; step 3: nothing
    sample = np.array([0, 2, -1, 1, -1, -1])
    out = np.array([0, -1, -1, 1, -1])          # neuron 0 fires in step 1, neuron 1 in 3
    m = neurobench_metrics(net, [sample], [[out]], [False], False)
    # 3 of the 6 weights are zero
    assert m["connection_sparsity"] == 0.5 and m["parameter_count"] == 6
    # 2 spikes over 2 neurons x 3 steps
    assert m["activation_sparsity"] == pytest.approx(1 - 2 / 6)
    # input 0 reaches one non-zero weight (w[0,0]), input 2 two, input 1 none: 3
    assert m["effective_acs_per_sample"] == 3
    # dense: all 3 x 2 connections in each of the 3 steps, spikes or not: 18
    assert m["dense_ops_per_sample"] == 18
    # per sample: two identical samples give the same figures, totals double
    m2 = neurobench_metrics(net, [sample, sample], [[out], [out]], [False], False)
    assert m2["effective_acs_per_sample"] == 3 and m2["totals"]["effective_acs"] == 6
    assert m2["dense_ops_per_sample"] == 18 and m2["totals"]["dense_ops"] == 36
    # footprint, NeuroBench's bytes of the float32 model: 6 parameters x 4 = 24, and one
    # snnTorch Leaky: threshold, beta, graded_spikes_factor (4 each), reset_mechanism_val
    # (int64, 8), mem (empty) = 20
    assert m["footprint_bytes"] == 44
    assert (m["footprint"]["parameter_bytes"], m["footprint"]["buffer_bytes"]) == (24, 20)


def test_bias_source_and_bias_unit_are_biases_not_synapses():
    # layer 0: inputs 0, 1 and the bias source 2; neurons 0, 1 and the bias unit 2 (fires
    # every step); layer 1: sources 0, 1 and the unit's spikes (source 2), one neuron
    w0 = np.array([[1, 0, 3],
                   [2, 2, 0],
                   [0, 0, 1]])     # row 2: the bias unit's own input, not a synapse
    w1 = np.array([[0, 1, -2]])
    net = Network([FCLayer(w0, CFG), FCLayer(w1, CFG)])
    # two steps: step 1 input 0, step 2 input 1; the bias source (2) is active every step
    sample = np.array([0, 2, -1, 1, 2, -1])
    l0 = np.array([1, 2, -1, 0, 2, -1])          # neuron 1 then 0 fire; the unit every step
    l1 = np.array([-1, 0, -1])                  # the output neuron fires in step 2
    m = neurobench_metrics(net, [sample], [[l0, l1]], [True, False], True)
    # weights: layer 0's 2 x 2 block [[1, 0], [2, 2]] (1 zero), layer 1's [0, 1] (1 zero):
    # 2 zeros of 6; biases: layer 0's column 2 for its 2 neurons (3, 0), layer 1's -2
    assert m["connection_sparsity"] == pytest.approx(2 / 6)
    assert m["parameter_count"] == 6 + 3
    # activations: layer 0's 2 neurons + layer 1's 1, over 2 steps = 6; spikes: 2 + 1
    assert m["activation_sparsity"] == pytest.approx(1 - 3 / 6)
    # effective: layer 0: input 0 -> 2 non-zeros (1, 2), input 1 -> 1 (2); layer 1: source
    # 1 -> 1 (w1[0,1]), source 0 -> 0; the bias source and the unit's spikes: none. 4
    assert m["effective_acs_per_sample"] == 4
    # dense: (2 x 2 + 2 x 1) connections x 2 steps = 12
    assert m["dense_ops_per_sample"] == 12
    # footprint: 9 parameters (6 weights, 3 biases) x 4 = 36 + two Leaky layers x 20 = 76
    assert m["footprint_bytes"] == 76


def test_footprint_counts_a_per_neuron_threshold_per_neuron():
    cfg = LayerConfig(bw=3, bv=8, threshold_source="array")
    net = Network([FCLayer(np.array([[1, 0], [2, 2], [0, 1]]), cfg,
                           thresholds=np.array([1, 2, 3]))])
    m = neurobench_metrics(net, [np.array([-1])], [[np.array([-1])]], [False], False)
    # 6 weights x 4 = 24; threshold a float32 per neuron: 3 x 4 = 12, beta 4,
    # graded_spikes_factor 4, reset_mechanism_val 8: 28 bytes of buffers
    assert m["footprint"]["buffer_bytes"] == 28 and m["footprint_bytes"] == 52
    # thresholds in the array but all equal among the real neurons (an import's bias unit,
    # the last neuron, has its own): one scalar threshold, as in the float model: 20 bytes
    w = np.array([[1, 0], [2, 2], [0, 0]])
    net = Network([FCLayer(w, cfg, thresholds=np.array([5, 5, 0]))])
    m = neurobench_metrics(net, [np.array([-1])], [[np.array([-1])]], [True], False)
    assert m["footprint"]["buffer_bytes"] == 20
    # parameters: the real neurons' 2 x 2 weights (the unit's row is not a synapse): 16
    assert m["footprint_bytes"] == 16 + 20


def test_conv_counts_the_kernel_and_its_taps_inside_the_input():
    k = np.array([[[[1, 0, 1], [1, 1, 1], [0, 1, 1]]]])     # 1 x 1 x 3 x 3, 2 zeros
    net = Network([ConvLayer(k, (1, 3, 3), CFG, stride=1, padding=1)])
    sample = np.array([4, -1])                               # the centre pixel, one step
    out = np.array([-1])
    m = neurobench_metrics(net, [sample], [[out]], [False], False)
    # NeuroBench sees the kernel: 2 zeros of 9 (not the unrolled 9 x 9 matrix)
    assert m["connection_sparsity"] == pytest.approx(2 / 9) and m["parameter_count"] == 9
    # the centre pixel meets every kernel entry once (one per output): 7 non-zero
    assert m["effective_acs_per_sample"] == 7
    # dense, padding 1 on a 3 x 3 output: a corner output has 4 taps inside the input, an
    # edge 6, the centre 9: 4 x 4 + 4 x 6 + 9 = 49 per step
    assert m["dense_ops_per_sample"] == 49
    assert m["activation_sparsity"] == 1.0
