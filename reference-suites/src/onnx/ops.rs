//! Per-operator import: attributes checked, shapes inferred, weights made parameters.

use super::{Builder, Const, attr, attr_f, attr_i, attr_ints, err, tensor_const};
use crate::graph::{MAX_ROW_ELEMS, Node, Op, Param, kernels::Window};
use crate::model::ModelError;
use crate::onnx::proto::NodeProto;

fn nerr(node: &NodeProto, what: impl std::fmt::Display) -> ModelError {
    err(format!("node {:?} ({}): {what}", node.name, node.op_type))
}

impl Builder {
    /// The activation value an input of `node` names.
    pub(super) fn act(&self, node: &NodeProto, i: usize) -> Result<usize, ModelError> {
        let name = node
            .input
            .get(i)
            .ok_or_else(|| nerr(node, format!("missing input {i}")))?;
        if self.consts.contains_key(name) {
            return Err(nerr(
                node,
                format!("input {name:?} is a constant where an activation is expected"),
            ));
        }
        self.values.get(name).copied().ok_or_else(|| {
            nerr(
                node,
                format!(
                    "uses {name:?}, which no earlier node computes (unknown name, or the graph \
                     is not in topological order or has a cycle)"
                ),
            )
        })
    }

    fn konst(&self, node: &NodeProto, i: usize) -> Result<&Const, ModelError> {
        let name = node
            .input
            .get(i)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| nerr(node, format!("missing input {i}")))?;
        self.consts.get(name).ok_or_else(|| {
            nerr(
                node,
                format!("input {name:?} must be an initializer or a Constant output"),
            )
        })
    }

    fn opt_konst(&self, node: &NodeProto, i: usize) -> Result<Option<&Const>, ModelError> {
        match node.input.get(i) {
            Some(n) if !n.is_empty() => self.konst(node, i).map(Some),
            _ => Ok(None),
        }
    }

    fn param(&mut self, name: String, c: &Const) -> usize {
        self.params.push(Param {
            name,
            shape: c.dims.clone(),
            data: c.floats.clone(),
        });
        self.params.len() - 1
    }

    fn push(
        &mut self,
        node: &NodeProto,
        op: Op,
        inputs: Vec<usize>,
        shape: Vec<usize>,
        extra: usize,
    ) -> Result<(), ModelError> {
        let row: usize = shape.iter().product();
        self.budget = self.budget.saturating_add(row).saturating_add(extra);
        if self.budget > MAX_ROW_ELEMS || row == 0 {
            return Err(nerr(
                node,
                format!(
                    "activations reach {} values per row (limit {MAX_ROW_ELEMS}) or are empty",
                    self.budget
                ),
            ));
        }
        let [out] = node.output.as_slice() else {
            return Err(nerr(node, "expected exactly one output"));
        };
        if self.values.contains_key(out) || self.consts.contains_key(out) {
            return Err(nerr(node, format!("output {out:?} is defined twice")));
        }
        self.nodes.push(Node {
            op,
            inputs,
            name: node.name.clone(),
        });
        self.shapes.push(shape);
        self.values.insert(out.clone(), self.shapes.len() - 1);
        Ok(())
    }

    fn float_const(&self, node: &NodeProto, i: usize) -> Result<Const, ModelError> {
        let c = self.konst(node, i)?.clone();
        if c.floats.is_empty() && !c.ints.is_empty() {
            return Err(nerr(node, format!("input {i} must hold floats")));
        }
        Ok(c)
    }

    fn window(
        &self,
        node: &NodeProto,
        shape: &[usize],
        kernel: (usize, usize),
    ) -> Result<Window, ModelError> {
        let &[_, h, w] = shape else {
            return Err(nerr(
                node,
                format!("needs a [C, H, W] input, got {shape:?}"),
            ));
        };
        let ints = |name: &str, default: i64| -> Result<Vec<usize>, ModelError> {
            attr_ints(node, name)
                .unwrap_or_else(|| vec![default; if name == "pads" { 4 } else { 2 }])
                .iter()
                .map(|&v| usize::try_from(v).ok().filter(|&v| v <= 1 << 16))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| nerr(node, format!("attribute {name} is out of range")))
        };
        if attr(node, "auto_pad").is_some_and(|a| !a.s.is_empty() && a.s != b"NOTSET") {
            return Err(nerr(
                node,
                "auto_pad is not supported; export explicit pads",
            ));
        }
        if attr_i(node, "ceil_mode", 0) != 0 {
            return Err(nerr(node, "ceil_mode = 1 is not supported"));
        }
        let dil = ints("dilations", 1)?;
        if dil.iter().any(|&d| d != 1) {
            return Err(nerr(
                node,
                format!("dilations {dil:?} are not supported (only 1)"),
            ));
        }
        let strides = ints("strides", 1)?;
        let pads = ints("pads", 0)?;
        let (&[sh, sw], &[pt, pl, pb, pr]) = (strides.as_slice(), pads.as_slice()) else {
            return Err(nerr(node, "expected 2 strides and 4 pads (a 2-D operator)"));
        };
        let win = Window {
            kh: kernel.0,
            kw: kernel.1,
            sh,
            sw,
            pad: [pt, pl, pb, pr],
            h,
            w,
        };
        win.out().ok_or_else(|| {
            nerr(
                node,
                format!("window {kernel:?} does not fit input {shape:?}"),
            )
        })?;
        Ok(win)
    }

    fn kernel_attr(node: &NodeProto) -> Result<(usize, usize), ModelError> {
        match attr_ints(node, "kernel_shape").as_deref() {
            Some(&[a, b]) if (1..=1 << 12).contains(&a) && (1..=1 << 12).contains(&b) => {
                Ok((a as usize, b as usize))
            }
            _ => Err(nerr(
                node,
                "kernel_shape must be two sizes > 0 (a 2-D operator)",
            )),
        }
    }

    /// Imports one node.
    pub(super) fn node(&mut self, node: &NodeProto) -> Result<(), ModelError> {
        match node.op_type.as_str() {
            "Constant" => {
                let t = attr(node, "value")
                    .and_then(|a| a.t.as_ref())
                    .ok_or_else(|| nerr(node, "only the tensor form `value` is supported"))?;
                let c = tensor_const(t)?;
                let [out] = node.output.as_slice() else {
                    return Err(nerr(node, "expected exactly one output"));
                };
                self.consts.insert(out.clone(), c);
                Ok(())
            }
            "Conv" => self.conv(node),
            "MaxPool" | "AveragePool" => {
                let x = self.act(node, 0)?;
                let shape = self.shapes[x].clone();
                let win = self.window(node, &shape, Self::kernel_attr(node)?)?;
                if node.output.len() > 1 {
                    return Err(nerr(node, "the Indices output is not supported"));
                }
                let (oh, ow) = win.out().unwrap_or((0, 0));
                let op = if node.op_type == "MaxPool" {
                    if attr_i(node, "storage_order", 0) != 0 {
                        return Err(nerr(node, "storage_order = 1 is not supported"));
                    }
                    Op::MaxPool {
                        win,
                        planes: shape[0],
                    }
                } else {
                    Op::AvgPool {
                        win,
                        planes: shape[0],
                        include_pad: attr_i(node, "count_include_pad", 0) != 0,
                    }
                };
                self.push(node, op, vec![x], vec![shape[0], oh, ow], 0)
            }
            "GlobalAveragePool" => {
                let x = self.act(node, 0)?;
                let shape = self.shapes[x].clone();
                let &[c, h, w] = shape.as_slice() else {
                    return Err(nerr(
                        node,
                        format!("needs a [C, H, W] input, got {shape:?}"),
                    ));
                };
                let win = Window {
                    kh: h,
                    kw: w,
                    sh: 1,
                    sw: 1,
                    pad: [0; 4],
                    h,
                    w,
                };
                let op = Op::AvgPool {
                    win,
                    planes: c,
                    include_pad: false,
                };
                self.push(node, op, vec![x], vec![c, 1, 1], 0)
            }
            "BatchNormalization" => self.batch_norm(node),
            "Relu" => {
                let x = self.act(node, 0)?;
                let s = self.shapes[x].clone();
                self.push(node, Op::Relu, vec![x], s, 0)
            }
            "Identity" | "Dropout" => {
                let x = self.act(node, 0)?;
                if node.op_type == "Dropout" && node.output.len() > 1 {
                    return Err(nerr(node, "the mask output is not supported"));
                }
                let s = self.shapes[x].clone();
                self.push(node, Op::View, vec![x], s, 0)
            }
            "Flatten" => {
                let x = self.act(node, 0)?;
                if attr_i(node, "axis", 1) != 1 {
                    return Err(nerr(node, "only axis = 1 is supported"));
                }
                let row = self.shapes[x].iter().product();
                self.push(node, Op::View, vec![x], vec![row], 0)
            }
            "Reshape" => self.reshape(node),
            "Gemm" => self.gemm(node),
            "MatMul" => {
                let x = self.act(node, 0)?;
                let w = self.float_const(node, 1)?;
                let &[f] = self.shapes[x].as_slice() else {
                    return Err(nerr(node, "needs a [batch, features] input"));
                };
                let &[k, o] = w.dims.as_slice() else {
                    return Err(nerr(node, "the weight must be 2-D [in, out]"));
                };
                if k != f {
                    return Err(nerr(
                        node,
                        format!("weight [{k}, {o}] does not take {f} inputs"),
                    ));
                }
                // Stored as [out, in] like Gemm with transB.
                let mut t = vec![0.0f32; k * o];
                for i in 0..k {
                    for j in 0..o {
                        t[j * k + i] = w.floats[i * o + j];
                    }
                }
                let c = Const {
                    dims: vec![o, k],
                    floats: t,
                    ints: Vec::new(),
                };
                let wi = self.param(node.input[1].clone(), &c);
                let op = Op::Dense {
                    w: wi,
                    b: None,
                    inp: k,
                    out: o,
                };
                self.push(node, op, vec![x], vec![o], 0)
            }
            "Add" => self.add(node),
            _ => Err(ModelError::OnnxOp {
                op: node.op_type.clone(),
                node: node.name.clone(),
            }),
        }
    }

    fn conv(&mut self, node: &NodeProto) -> Result<(), ModelError> {
        let x = self.act(node, 0)?;
        let shape = self.shapes[x].clone();
        let w = self.float_const(node, 1)?;
        let &[o, ci, kh, kw] = w.dims.as_slice() else {
            return Err(nerr(node, "only 2-D convolutions (weight [O, C, kH, kW])"));
        };
        if attr_i(node, "group", 1) != 1 {
            return Err(nerr(node, "only group = 1 is supported"));
        }
        if let Some(ks) = attr_ints(node, "kernel_shape")
            && ks != [kh as i64, kw as i64]
        {
            return Err(nerr(node, "kernel_shape disagrees with the weight"));
        }
        let win = self.window(node, &shape, (kh, kw))?;
        if (win.sh, win.sw) != (1, 1) {
            return Err(nerr(node, "only stride 1 is supported"));
        }
        if shape[0] != ci {
            return Err(nerr(
                node,
                format!("weight takes {ci} channels but the input has shape {shape:?}"),
            ));
        }
        let b = self.opt_konst(node, 2)?.cloned();
        if let Some(b) = &b
            && b.dims != [o]
        {
            return Err(nerr(node, format!("bias shape {:?} is not [{o}]", b.dims)));
        }
        let (oh, ow) = win.out().unwrap_or((0, 0));
        let wi = self.param(node.input[1].clone(), &w);
        let bi = b.map(|b| self.param(node.input[2].clone(), &b));
        let op = Op::Conv {
            w: wi,
            b: bi,
            win,
            cin: ci,
            cout: o,
        };
        self.push(node, op, vec![x], vec![o, oh, ow], ci * kh * kw * oh * ow)
    }

    fn batch_norm(&mut self, node: &NodeProto) -> Result<(), ModelError> {
        let x = self.act(node, 0)?;
        let shape = self.shapes[x].clone();
        if node.output.len() > 1 || attr_i(node, "training_mode", 0) != 0 {
            return Err(nerr(node, "only inference mode (one output) is supported"));
        }
        let eps = f64::from(attr_f(node, "epsilon", 1e-5));
        let c = shape[0];
        let mut parts = Vec::with_capacity(4);
        for i in 1..=4 {
            let k = self.float_const(node, i)?;
            if k.dims != [c] {
                return Err(nerr(
                    node,
                    format!("input {i} has shape {:?}, not [{c}]", k.dims),
                ));
            }
            parts.push(k.floats);
        }
        let (mut scale, mut shift) = (Vec::with_capacity(c), Vec::with_capacity(c));
        let [gamma, beta, mean, var] = [&parts[0], &parts[1], &parts[2], &parts[3]];
        for (((g, b), m), v) in gamma.iter().zip(beta).zip(mean).zip(var) {
            let s = f64::from(*g) / (f64::from(*v) + eps).sqrt();
            if !s.is_finite() {
                return Err(nerr(node, "variance + epsilon is not positive"));
            }
            scale.push(s as f32);
            shift.push((f64::from(*b) - f64::from(*m) * s) as f32);
        }
        let plane = shape.iter().skip(1).product();
        let op = Op::Affine {
            scale,
            shift,
            channels: c,
            plane,
        };
        self.push(node, op, vec![x], shape, 0)
    }

    fn reshape(&mut self, node: &NodeProto) -> Result<(), ModelError> {
        let x = self.act(node, 0)?;
        let row: usize = self.shapes[x].iter().product();
        let target = self.konst(node, 1).map_err(|_| ModelError::DynamicShape {
            input: node.name.clone(),
            axis: 0,
        })?;
        let t = target.ints.clone();
        if t.is_empty() || t.len() > 5 || !(t[0] == 0 || t[0] == -1) {
            return Err(nerr(
                node,
                format!("target shape {t:?} must keep the batch axis first (0 or -1)"),
            ));
        }
        let mut out = Vec::new();
        let mut infer = None;
        for (i, &d) in t.iter().enumerate().skip(1) {
            match d {
                -1 if infer.is_none() && t[0] == 0 => {
                    infer = Some(i - 1);
                    out.push(1);
                }
                0 => out.push(*self.shapes[x].get(i - 1).unwrap_or(&0)),
                d if d > 0 => out.push(usize::try_from(d).unwrap_or(usize::MAX)),
                _ => return Err(nerr(node, format!("target shape {t:?} is not supported"))),
            }
        }
        let known: usize = out.iter().product();
        if let Some(i) = infer
            && known > 0
        {
            out[i] = row / known;
        }
        if out.iter().product::<usize>() != row {
            return Err(nerr(
                node,
                format!("target shape {t:?} does not hold {row} values per row"),
            ));
        }
        self.push(node, Op::View, vec![x], out, 0)
    }

    fn gemm(&mut self, node: &NodeProto) -> Result<(), ModelError> {
        let x = self.act(node, 0)?;
        let &[f] = self.shapes[x].as_slice() else {
            return Err(nerr(
                node,
                format!("needs a [batch, features] input, got {:?}", self.shapes[x]),
            ));
        };
        if attr_i(node, "transA", 0) != 0 {
            return Err(nerr(node, "transA = 1 is not supported"));
        }
        let alpha = attr_f(node, "alpha", 1.0);
        let beta = attr_f(node, "beta", 1.0);
        let w = self.float_const(node, 1)?;
        let &[a, b] = w.dims.as_slice() else {
            return Err(nerr(node, "the weight must be 2-D"));
        };
        let trans_b = attr_i(node, "transB", 0) != 0;
        let (o, k) = if trans_b { (a, b) } else { (b, a) };
        if k != f {
            return Err(nerr(
                node,
                format!("weight {:?} does not take {f} inputs", w.dims),
            ));
        }
        let mut wt = vec![0.0f32; o * k];
        for j in 0..o {
            for i in 0..k {
                let v = if trans_b {
                    w.floats[j * k + i]
                } else {
                    w.floats[i * o + j]
                };
                wt[j * k + i] = alpha * v;
            }
        }
        let wc = Const {
            dims: vec![o, k],
            floats: wt,
            ints: Vec::new(),
        };
        let bias = match self.opt_konst(node, 2)? {
            None => None,
            Some(c) => {
                let n: usize = c.dims.iter().product();
                let v: Vec<f32> = if n == o {
                    c.floats.iter().map(|v| beta * v).collect()
                } else if n == 1 {
                    vec![beta * c.floats[0]; o]
                } else {
                    return Err(nerr(
                        node,
                        format!("C has shape {:?}; expected [{o}]", c.dims),
                    ));
                };
                Some(Const {
                    dims: vec![o],
                    floats: v,
                    ints: Vec::new(),
                })
            }
        };
        let wi = self.param(node.input[1].clone(), &wc);
        let bi = bias.map(|b| self.param(node.input[2].clone(), &b));
        let op = Op::Dense {
            w: wi,
            b: bi,
            inp: k,
            out: o,
        };
        self.push(node, op, vec![x], vec![o], 0)
    }

    fn add(&mut self, node: &NodeProto) -> Result<(), ModelError> {
        let names = (node.input.first(), node.input.get(1));
        let (Some(a), Some(b)) = names else {
            return Err(nerr(node, "needs two inputs"));
        };
        let (ca, cb) = (self.consts.contains_key(a), self.consts.contains_key(b));
        match (ca, cb) {
            (false, false) => {
                let (x, y) = (self.act(node, 0)?, self.act(node, 1)?);
                if self.shapes[x] != self.shapes[y] {
                    return Err(nerr(node, "adds activations of different shapes"));
                }
                let s = self.shapes[x].clone();
                self.push(node, Op::Add, vec![x, y], s, 0)
            }
            (true, true) => Err(nerr(node, "adds two constants; fold them before export")),
            _ => {
                let (xi, ci) = if ca { (1, 0) } else { (0, 1) };
                let x = self.act(node, xi)?;
                let c = self.float_const(node, ci)?;
                let shape = self.shapes[x].clone();
                let row: usize = shape.iter().product();
                let mut dims = c.dims.clone();
                while dims.first() == Some(&1) && dims.len() > shape.len() {
                    dims.remove(0);
                }
                let full: Vec<f32> = if dims == shape {
                    c.floats.clone()
                } else if c.floats.len() == 1 {
                    vec![c.floats[0]; row]
                } else if shape.len() == 3 && dims == [shape[0], 1, 1] {
                    let plane = shape[1] * shape[2];
                    (0..row).map(|j| c.floats[j / plane]).collect()
                } else {
                    return Err(nerr(
                        node,
                        format!(
                            "cannot broadcast a constant of shape {:?} to {shape:?}",
                            c.dims
                        ),
                    ));
                };
                let pc = Const {
                    dims: shape.clone(),
                    floats: full,
                    ints: Vec::new(),
                };
                let p = self.param(node.input[ci].clone(), &pc);
                self.push(node, Op::AddParam { p }, vec![x], shape, 0)
            }
        }
    }
}
