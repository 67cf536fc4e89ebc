;; synthgrad's own kernels on float32 data in the tfjs wasm backend's memory (imported), four lanes
;; at a time (wasm SIMD) where they can. Built into kernels.wasm by scripts/build-wasm.ts; the
;; tfjs side is src/runtime/wasm-kernels.ts. All pointers are byte offsets into that memory.
;;
;; adam: Adam's update in float32, op by op in the order of the tfjs ops it replaces:
;;   m = b1·m + c1·g;  v = b2·v + c2·g²;  q = p + (m·lr) / (√v + eps)
;; with c1 = 1 - b1, c2 = 1 - b2, lr = -(bias-corrected learning rate), eps = bias-corrected epsilon.
;; p, q, m, v, g hold n floats each; m and v are updated in place, the new parameter goes to q
;; (which may be p).
(module
  (import "env" "memory" (memory 0))
  (func (export "adam")
    (param $p i32) (param $q i32) (param $m i32) (param $v i32) (param $g i32) (param $n i32)
    (param $b1 f32) (param $b2 f32) (param $c1 f32) (param $c2 f32) (param $lr f32) (param $eps f32)
    (local $i i32) (local $end4 i32) (local $o i32)
    (local $B1 v128) (local $B2 v128) (local $C1 v128) (local $C2 v128) (local $LR v128) (local $EPS v128)
    (local $gv v128) (local $mv v128) (local $vv v128)
    (local $gs f32) (local $ms f32) (local $vs f32)
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $LR (f32x4.splat (local.get $lr)))
    (local.set $EPS (f32x4.splat (local.get $eps)))
    (local.set $end4 (i32.and (local.get $n) (i32.const -4)))
    ;; four lanes at a time
    (block $done4
      (loop $lanes
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gv (v128.load (i32.add (local.get $g) (local.get $o))))
        (local.set $mv
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $o))) (local.get $B1))
            (f32x4.mul (local.get $gv) (local.get $C1))))
        (local.set $vv
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $o))) (local.get $B2))
            (f32x4.mul (f32x4.mul (local.get $gv) (local.get $gv)) (local.get $C2))))
        (v128.store (i32.add (local.get $m) (local.get $o)) (local.get $mv))
        (v128.store (i32.add (local.get $v) (local.get $o)) (local.get $vv))
        (v128.store (i32.add (local.get $q) (local.get $o))
          (f32x4.add
            (f32x4.div
              (f32x4.mul (local.get $mv) (local.get $LR))
              (f32x4.add (f32x4.sqrt (local.get $vv)) (local.get $EPS)))
            (v128.load (i32.add (local.get $p) (local.get $o)))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $lanes)))
    ;; the last n mod 4 one at a time
    (block $done
      (loop $rest
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $o))))
        (local.set $ms
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $m) (local.get $o))) (local.get $b1))
            (f32.mul (local.get $gs) (local.get $c1))))
        (local.set $vs
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $v) (local.get $o))) (local.get $b2))
            (f32.mul (f32.mul (local.get $gs) (local.get $gs)) (local.get $c2))))
        (f32.store (i32.add (local.get $m) (local.get $o)) (local.get $ms))
        (f32.store (i32.add (local.get $v) (local.get $o)) (local.get $vs))
        (f32.store (i32.add (local.get $q) (local.get $o))
          (f32.add
            (f32.div
              (f32.mul (local.get $ms) (local.get $lr))
              (f32.add (f32.sqrt (local.get $vs)) (local.get $eps)))
            (f32.load (i32.add (local.get $p) (local.get $o)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rest))))

  ;; column_sum: out[c] = scale · Σ_r m[r, c] for a row-major [rows, cols] matrix m, summed row by
  ;; row from r = 0 (what a bias or BatchNorm gradient needs, without a matMul by a ones vector).
  (func $column_sum_scaled (export "column_sum") (param $m i32) (param $rows i32) (param $cols i32) (param $scale f32) (param $out i32)
    (local $r i32) (local $c i32) (local $end4 i32) (local $row i32) (local $o i32) (local $S v128)
    (local.set $end4 (i32.and (local.get $cols) (i32.const -4)))
    (memory.fill (local.get $out) (i32.const 0) (i32.shl (local.get $cols) (i32.const 2)))
    (block $rows_done
      (loop $rows_loop
        (br_if $rows_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $row (i32.add (local.get $m) (i32.shl (i32.mul (local.get $r) (local.get $cols)) (i32.const 2))))
        (local.set $c (i32.const 0))
        (block $lanes_done
          (loop $lanes
            (br_if $lanes_done (i32.ge_u (local.get $c) (local.get $end4)))
            (local.set $o (i32.shl (local.get $c) (i32.const 2)))
            (v128.store (i32.add (local.get $out) (local.get $o))
              (f32x4.add (v128.load (i32.add (local.get $out) (local.get $o))) (v128.load (i32.add (local.get $row) (local.get $o)))))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $lanes)))
        (block $tail_done
          (loop $tail
            (br_if $tail_done (i32.ge_u (local.get $c) (local.get $cols)))
            (local.set $o (i32.shl (local.get $c) (i32.const 2)))
            (f32.store (i32.add (local.get $out) (local.get $o))
              (f32.add (f32.load (i32.add (local.get $out) (local.get $o))) (f32.load (i32.add (local.get $row) (local.get $o)))))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $tail)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows_loop)))
    (local.set $S (f32x4.splat (local.get $scale)))
    (local.set $c (i32.const 0))
    (block $scaled
      (loop $scale_loop
        (br_if $scaled (i32.ge_u (local.get $c) (local.get $end4)))
        (local.set $o (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))))
        (v128.store (local.get $o) (f32x4.mul (v128.load (local.get $o)) (local.get $S)))
        (local.set $c (i32.add (local.get $c) (i32.const 4)))
        (br $scale_loop)))
    (block $scaled_tail
      (loop $scale_tail
        (br_if $scaled_tail (i32.ge_u (local.get $c) (local.get $cols)))
        (local.set $o (i32.add (local.get $out) (i32.shl (local.get $c) (i32.const 2))))
        (f32.store (local.get $o) (f32.mul (f32.load (local.get $o)) (local.get $scale)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $scale_tail))))

  ;; transpose: out[c, r] = x[r, c] for a row-major [rows, cols] matrix x (out is [cols, rows]), in
  ;; 4x4 blocks moved through registers (four loads, eight shuffles, four stores), four blocks down
  ;; a band of 16 rows before the next 4 columns (so each row of out gets 64 bytes at a time), then
  ;; the rows mod 4 and cols mod 4 edges one element at a time.
  (func (export "transpose") (param $x i32) (param $rows i32) (param $cols i32) (param $out i32)
    (local $r i32) (local $c i32) (local $rows4 i32) (local $cols4 i32) (local $in i32) (local $dst i32)
    (local $rowBytes i32) (local $outRowBytes i32) (local $band i32) (local $q i32) (local $rq i32)
    (local $a v128) (local $b v128) (local $cc v128) (local $d v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $rows4 (i32.and (local.get $rows) (i32.const -4)))
    (local.set $cols4 (i32.and (local.get $cols) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $outRowBytes (i32.shl (local.get $rows) (i32.const 2)))
    (block $blocks_done
      (loop $block_rows
        (br_if $blocks_done (i32.ge_u (local.get $r) (local.get $rows4)))
        ;; bands of 16 rows while they fit (each row of out then gets 64 bytes at a time), then 4
        (local.set $band (select (i32.const 16) (i32.const 4) (i32.le_u (i32.add (local.get $r) (i32.const 16)) (local.get $rows4))))
        (local.set $c (i32.const 0))
        (block $row_done
          (loop $block_cols
            (br_if $row_done (i32.ge_u (local.get $c) (local.get $cols4)))
            (local.set $q (i32.const 0))
            (loop $sub_blocks
              (local.set $rq (i32.add (local.get $r) (local.get $q)))
              ;; a, b, cc, d: x[r .. r+3, c .. c+3]
              (local.set $in (i32.add (local.get $x) (i32.shl (i32.add (i32.mul (local.get $rq) (local.get $cols)) (local.get $c)) (i32.const 2))))
              (local.set $a (v128.load (local.get $in)))
              (local.set $b (v128.load (i32.add (local.get $in) (local.get $rowBytes))))
              (local.set $cc (v128.load (i32.add (local.get $in) (i32.shl (local.get $rowBytes) (i32.const 1)))))
              (local.set $d (v128.load (i32.add (local.get $in) (i32.mul (local.get $rowBytes) (i32.const 3)))))
              ;; t0 = [a0 b0 a1 b1], t1 = [a2 b2 a3 b3], t2 = [c0 d0 c1 d1], t3 = [c2 d2 c3 d3]
              (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $a) (local.get $b)))
              (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $a) (local.get $b)))
              (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $cc) (local.get $d)))
              (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $cc) (local.get $d)))
              ;; out[c + k, r .. r+3] = [a_k b_k c_k d_k]
              (local.set $dst (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $rq)) (i32.const 2))))
              (v128.store (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
              (v128.store (i32.add (local.get $dst) (local.get $outRowBytes))
                (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
              (v128.store (i32.add (local.get $dst) (i32.shl (local.get $outRowBytes) (i32.const 1)))
                (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
              (v128.store (i32.add (local.get $dst) (i32.mul (local.get $outRowBytes) (i32.const 3)))
                (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
              (local.set $q (i32.add (local.get $q) (i32.const 4)))
              (br_if $sub_blocks (i32.lt_u (local.get $q) (local.get $band))))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $block_cols)))
        (local.set $r (i32.add (local.get $r) (local.get $band)))
        (br $block_rows)))
    ;; the last cols mod 4 columns of the first rows4 rows, then the last rows mod 4 rows whole
    (local.set $r (i32.const 0))
    (block $edge_done
      (loop $edge_rows
        (br_if $edge_done (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $c (select (local.get $cols4) (i32.const 0) (i32.lt_u (local.get $r) (local.get $rows4))))
        (block $edge_row_done
          (loop $edge_cols
            (br_if $edge_row_done (i32.ge_u (local.get $c) (local.get $cols)))
            (f32.store
              (i32.add (local.get $out) (i32.shl (i32.add (i32.mul (local.get $c) (local.get $rows)) (local.get $r)) (i32.const 2)))
              (f32.load (i32.add (local.get $x) (i32.shl (i32.add (i32.mul (local.get $r) (local.get $cols)) (local.get $c)) (i32.const 2)))))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $edge_cols)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $edge_rows))))

  ;; all_finite: 1 when none of the n floats at x is NaN or ±Inf, else 0 (x - x is 0 for a finite
  ;; x and NaN otherwise, and NaN is the one value unequal to itself).
  (func (export "all_finite") (param $x i32) (param $n i32) (result i32)
    (local $i i32) (local $end4 i32) (local $d v128) (local $bad v128) (local $s f32)
    (local.set $end4 (i32.and (local.get $n) (i32.const -4)))
    (block $done4
      (loop $lanes
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $d (v128.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $d (f32x4.sub (local.get $d) (local.get $d)))
        (local.set $bad (v128.or (local.get $bad) (f32x4.ne (local.get $d) (local.get $d))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $lanes)))
    (if (v128.any_true (local.get $bad)) (then (return (i32.const 0))))
    (block $done
      (loop $rest
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $s (f32.load (i32.add (local.get $x) (i32.shl (local.get $i) (i32.const 2)))))
        (local.set $s (f32.sub (local.get $s) (local.get $s)))
        (if (f32.ne (local.get $s) (local.get $s)) (then (return (i32.const 0))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rest)))
    (i32.const 1))
  ;; regression: a helper net's training signal and figures in one pass over its output y, the
  ;; target t and (a synthesizer) the gradient u it had applied (n floats each):
  ;;   d = y - k·t;  dy = scale·d  (float32, op by op, as the tfjs ops it replaces)
  ;;   stats = [Σ d², Σ u·t, Σ u², Σ t²]  (float32, summed in four lanes)
  (func (export "regression")
    (param $y i32) (param $t i32) (param $u i32) (param $n i32) (param $k f32) (param $scale f32)
    (param $dy i32) (param $stats i32)
    (local $i i32) (local $end4 i32) (local $o i32)
    (local $K v128) (local $S v128) (local $tv v128) (local $uv v128) (local $dv v128)
    (local $dd v128) (local $ut v128) (local $uu v128) (local $tt v128)
    (local $ts f32) (local $us f32) (local $ds f32)
    (local $sdd f32) (local $sut f32) (local $suu f32) (local $stt f32)
    (local.set $K (f32x4.splat (local.get $k)))
    (local.set $S (f32x4.splat (local.get $scale)))
    (local.set $end4 (i32.and (local.get $n) (i32.const -4)))
    (block $done4
      (loop $lanes
        (br_if $done4 (i32.ge_u (local.get $i) (local.get $end4)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $tv (v128.load (i32.add (local.get $t) (local.get $o))))
        (local.set $uv (v128.load (i32.add (local.get $u) (local.get $o))))
        (local.set $dv (f32x4.sub (v128.load (i32.add (local.get $y) (local.get $o))) (f32x4.mul (local.get $tv) (local.get $K))))
        (v128.store (i32.add (local.get $dy) (local.get $o)) (f32x4.mul (local.get $dv) (local.get $S)))
        (local.set $dd (f32x4.add (local.get $dd) (f32x4.mul (local.get $dv) (local.get $dv))))
        (local.set $ut (f32x4.add (local.get $ut) (f32x4.mul (local.get $uv) (local.get $tv))))
        (local.set $uu (f32x4.add (local.get $uu) (f32x4.mul (local.get $uv) (local.get $uv))))
        (local.set $tt (f32x4.add (local.get $tt) (f32x4.mul (local.get $tv) (local.get $tv))))
        (local.set $i (i32.add (local.get $i) (i32.const 4)))
        (br $lanes)))
    (block $done
      (loop $rest
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $o (i32.shl (local.get $i) (i32.const 2)))
        (local.set $ts (f32.load (i32.add (local.get $t) (local.get $o))))
        (local.set $us (f32.load (i32.add (local.get $u) (local.get $o))))
        (local.set $ds (f32.sub (f32.load (i32.add (local.get $y) (local.get $o))) (f32.mul (local.get $ts) (local.get $k))))
        (f32.store (i32.add (local.get $dy) (local.get $o)) (f32.mul (local.get $ds) (local.get $scale)))
        (local.set $sdd (f32.add (local.get $sdd) (f32.mul (local.get $ds) (local.get $ds))))
        (local.set $sut (f32.add (local.get $sut) (f32.mul (local.get $us) (local.get $ts))))
        (local.set $suu (f32.add (local.get $suu) (f32.mul (local.get $us) (local.get $us))))
        (local.set $stt (f32.add (local.get $stt) (f32.mul (local.get $ts) (local.get $ts))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $rest)))
    (f32.store (local.get $stats) (f32.add (local.get $sdd) (call $lanes_sum (local.get $dd))))
    (f32.store offset=4 (local.get $stats) (f32.add (local.get $sut) (call $lanes_sum (local.get $ut))))
    (f32.store offset=8 (local.get $stats) (f32.add (local.get $suu) (call $lanes_sum (local.get $uu))))
    (f32.store offset=12 (local.get $stats) (f32.add (local.get $stt) (call $lanes_sum (local.get $tt)))))

  (func $lanes_sum (param $v v128) (result f32)
    (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $v)) (f32x4.extract_lane 1 (local.get $v)))
      (f32.add (f32x4.extract_lane 2 (local.get $v)) (f32x4.extract_lane 3 (local.get $v)))))
  ;; concat_columns: out = [a b] for row-major a [rows, ca] and b [rows, cb] (out is [rows, ca + cb]),
  ;; two block copies per row.
  (func (export "concat_columns") (param $a i32) (param $b i32) (param $rows i32) (param $ca i32) (param $cb i32) (param $out i32)
    (local $r i32) (local $aBytes i32) (local $bBytes i32) (local $dst i32)
    (local.set $aBytes (i32.shl (local.get $ca) (i32.const 2)))
    (local.set $bBytes (i32.shl (local.get $cb) (i32.const 2)))
    (local.set $dst (local.get $out))
    (block $done
      (loop $row
        (br_if $done (i32.ge_u (local.get $r) (local.get $rows)))
        (memory.copy (local.get $dst) (i32.add (local.get $a) (i32.mul (local.get $r) (local.get $aBytes))) (local.get $aBytes))
        (memory.copy (i32.add (local.get $dst) (local.get $aBytes)) (i32.add (local.get $b) (i32.mul (local.get $r) (local.get $bBytes))) (local.get $bBytes))
        (local.set $dst (i32.add (local.get $dst) (i32.add (local.get $aBytes) (local.get $bBytes))))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $row))))

  ;; batchnorm_forward: BatchNorm in training mode on a row-major [rows, n] matrix x (every row one
  ;; example or position, every column one unit or channel), op by op as the tfjs ops it replaces:
  ;;   mean = Σ_r x / rows;  var = Σ_r (x - mean)² / rows;  invStd = 1 / √(var + eps);
  ;;   xhat = (x - mean)·invStd;  y = xhat·gamma + beta (then max(y, 0) when relu);  scale = invStd·gamma
  ;; Column sums run row by row from r = 0 into mean and var. Outputs: y, xhat [rows, n];
  ;; mean, var, invStd, scale [n]. gamma and beta: [n].
  (func (export "batchnorm_forward")
    (param $x i32) (param $rows i32) (param $n i32) (param $gamma i32) (param $beta i32) (param $eps f32) (param $relu i32)
    (param $y i32) (param $xhat i32) (param $mean i32) (param $var i32) (param $inv i32) (param $scale i32)
    (local $r i32) (local $c i32) (local $end4 i32) (local $o i32) (local $row i32) (local $rowBytes i32)
    (local $d v128) (local $z v128) (local $ds f32) (local $zs f32) (local $inR f32) (local $IN v128) (local $EPS v128)
    (local.set $end4 (i32.and (local.get $n) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $n) (i32.const 2)))
    (local.set $inR (f32.div (f32.const 1) (f32.convert_i32_u (local.get $rows))))
    (local.set $IN (f32x4.splat (local.get $inR)))
    (local.set $EPS (f32x4.splat (local.get $eps)))
    ;; mean
    (call $column_sum_into (local.get $x) (local.get $rows) (local.get $n) (local.get $mean))
    (call $scale_in_place (local.get $mean) (local.get $n) (local.get $inR))
    ;; var: Σ (x - mean)²
    (memory.fill (local.get $var) (i32.const 0) (local.get $rowBytes))
    (local.set $r (i32.const 0))
    (block $vdone
      (loop $vrows
        (br_if $vdone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $row (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $rowBytes))))
        (local.set $c (i32.const 0))
        (block $l4
          (loop $lanes
            (br_if $l4 (i32.ge_u (local.get $c) (local.get $end4)))
            (local.set $o (i32.shl (local.get $c) (i32.const 2)))
            (local.set $d (f32x4.sub (v128.load (i32.add (local.get $row) (local.get $o))) (v128.load (i32.add (local.get $mean) (local.get $o)))))
            (v128.store (i32.add (local.get $var) (local.get $o))
              (f32x4.add (v128.load (i32.add (local.get $var) (local.get $o))) (f32x4.mul (local.get $d) (local.get $d))))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $lanes)))
        (block $l1
          (loop $tail
            (br_if $l1 (i32.ge_u (local.get $c) (local.get $n)))
            (local.set $o (i32.shl (local.get $c) (i32.const 2)))
            (local.set $ds (f32.sub (f32.load (i32.add (local.get $row) (local.get $o))) (f32.load (i32.add (local.get $mean) (local.get $o)))))
            (f32.store (i32.add (local.get $var) (local.get $o))
              (f32.add (f32.load (i32.add (local.get $var) (local.get $o))) (f32.mul (local.get $ds) (local.get $ds))))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $tail)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $vrows)))
    (call $scale_in_place (local.get $var) (local.get $n) (local.get $inR))
    ;; invStd, scale (per column)
    (local.set $c (i32.const 0))
    (block $sdone
      (loop $cols
        (br_if $sdone (i32.ge_u (local.get $c) (local.get $n)))
        (local.set $o (i32.shl (local.get $c) (i32.const 2)))
        (local.set $zs (f32.div (f32.const 1) (f32.sqrt (f32.add (f32.load (i32.add (local.get $var) (local.get $o))) (local.get $eps)))))
        (f32.store (i32.add (local.get $inv) (local.get $o)) (local.get $zs))
        (f32.store (i32.add (local.get $scale) (local.get $o)) (f32.mul (local.get $zs) (f32.load (i32.add (local.get $gamma) (local.get $o)))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $cols)))
    ;; xhat and y
    (local.set $r (i32.const 0))
    (block $ydone
      (loop $yrows
        (br_if $ydone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $row (i32.mul (local.get $r) (local.get $rowBytes)))
        (local.set $c (i32.const 0))
        (block $y4
          (loop $ylanes
            (br_if $y4 (i32.ge_u (local.get $c) (local.get $end4)))
            (local.set $o (i32.shl (local.get $c) (i32.const 2)))
            (local.set $d
              (f32x4.mul
                (f32x4.sub (v128.load (i32.add (local.get $x) (i32.add (local.get $row) (local.get $o)))) (v128.load (i32.add (local.get $mean) (local.get $o))))
                (v128.load (i32.add (local.get $inv) (local.get $o)))))
            (v128.store (i32.add (local.get $xhat) (i32.add (local.get $row) (local.get $o))) (local.get $d))
            (local.set $z
              (f32x4.add (f32x4.mul (local.get $d) (v128.load (i32.add (local.get $gamma) (local.get $o)))) (v128.load (i32.add (local.get $beta) (local.get $o)))))
            (if (local.get $relu) (then (local.set $z (f32x4.max (local.get $z) (f32x4.splat (f32.const 0))))))
            (v128.store (i32.add (local.get $y) (i32.add (local.get $row) (local.get $o))) (local.get $z))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $ylanes)))
        (block $y1
          (loop $ytail
            (br_if $y1 (i32.ge_u (local.get $c) (local.get $n)))
            (local.set $o (i32.shl (local.get $c) (i32.const 2)))
            (local.set $ds
              (f32.mul
                (f32.sub (f32.load (i32.add (local.get $x) (i32.add (local.get $row) (local.get $o)))) (f32.load (i32.add (local.get $mean) (local.get $o))))
                (f32.load (i32.add (local.get $inv) (local.get $o)))))
            (f32.store (i32.add (local.get $xhat) (i32.add (local.get $row) (local.get $o))) (local.get $ds))
            (local.set $zs
              (f32.add (f32.mul (local.get $ds) (f32.load (i32.add (local.get $gamma) (local.get $o)))) (f32.load (i32.add (local.get $beta) (local.get $o)))))
            (if (local.get $relu) (then (local.set $zs (f32.max (local.get $zs) (f32.const 0)))))
            (f32.store (i32.add (local.get $y) (i32.add (local.get $row) (local.get $o))) (local.get $zs))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $ytail)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $yrows))))

  ;; batchnorm_backward: BatchNorm's backward pass on [rows, n] matrices, op by op as the tfjs ops
  ;; it replaces: dz = dy where y > 0 (relu: y the forward's output; else y = 0 and dz = dy), 0 elsewhere;
  ;;   dbeta = Σ_r dz;  dgamma = Σ_r dz·xhat;  (needDx)  dx = dz·scale - scale·(dbeta/rows) - xhat·(scale·(dgamma/rows))
  ;; scale = gamma·invStd [n]. Outputs dgamma, dbeta [n] and (needDx) dx [rows, n].
  (func (export "batchnorm_backward")
    (param $dy i32) (param $xhat i32) (param $y i32) (param $scale i32) (param $rows i32) (param $n i32)
    (param $dgamma i32) (param $dbeta i32) (param $dx i32) (param $mterm i32) (param $xterm i32)
    (local $r i32) (local $c i32) (local $end4 i32) (local $o i32) (local $at i32) (local $rowBytes i32)
    (local $dz v128) (local $dzs f32) (local $inR f32) (local $sb f32) (local $sg f32)
    (local $d0 v128) (local $d1 v128) (local $d2 v128) (local $d3 v128)
    (local $b0 v128) (local $b1 v128) (local $b2 v128) (local $b3 v128)
    (local $g0 v128) (local $g1 v128) (local $g2 v128) (local $g3 v128)
    (local.set $end4 (i32.and (local.get $n) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $n) (i32.const 2)))
    (local.set $inR (f32.div (f32.const 1) (f32.convert_i32_u (local.get $rows))))
    ;; dbeta, dgamma: 16 columns at a time in registers down all the rows (each column summed
    ;; from row 0 on, as one column at a time would), then the last n mod 16 one at a time
    (block $bdone
      (loop $blocks
        (br_if $bdone (i32.gt_u (i32.add (local.get $c) (i32.const 16)) (local.get $n)))
        (local.set $b0 (v128.const i32x4 0 0 0 0)) (local.set $b1 (v128.const i32x4 0 0 0 0))
        (local.set $b2 (v128.const i32x4 0 0 0 0)) (local.set $b3 (v128.const i32x4 0 0 0 0))
        (local.set $g0 (v128.const i32x4 0 0 0 0)) (local.set $g1 (v128.const i32x4 0 0 0 0))
        (local.set $g2 (v128.const i32x4 0 0 0 0)) (local.set $g3 (v128.const i32x4 0 0 0 0))
        (local.set $at (i32.shl (local.get $c) (i32.const 2)))
        (local.set $r (i32.const 0))
        (block $rdone
          (loop $brows
            (br_if $rdone (i32.ge_u (local.get $r) (local.get $rows)))
            (local.set $d0 (v128.load (i32.add (local.get $dy) (local.get $at))))
            (local.set $d1 (v128.load offset=16 (i32.add (local.get $dy) (local.get $at))))
            (local.set $d2 (v128.load offset=32 (i32.add (local.get $dy) (local.get $at))))
            (local.set $d3 (v128.load offset=48 (i32.add (local.get $dy) (local.get $at))))
            (if (local.get $y)
              (then
                (local.set $d0 (v128.and (local.get $d0) (f32x4.gt (v128.load (i32.add (local.get $y) (local.get $at))) (v128.const i32x4 0 0 0 0))))
                (local.set $d1 (v128.and (local.get $d1) (f32x4.gt (v128.load offset=16 (i32.add (local.get $y) (local.get $at))) (v128.const i32x4 0 0 0 0))))
                (local.set $d2 (v128.and (local.get $d2) (f32x4.gt (v128.load offset=32 (i32.add (local.get $y) (local.get $at))) (v128.const i32x4 0 0 0 0))))
                (local.set $d3 (v128.and (local.get $d3) (f32x4.gt (v128.load offset=48 (i32.add (local.get $y) (local.get $at))) (v128.const i32x4 0 0 0 0))))))
            (local.set $b0 (f32x4.add (local.get $b0) (local.get $d0)))
            (local.set $b1 (f32x4.add (local.get $b1) (local.get $d1)))
            (local.set $b2 (f32x4.add (local.get $b2) (local.get $d2)))
            (local.set $b3 (f32x4.add (local.get $b3) (local.get $d3)))
            (local.set $g0 (f32x4.add (local.get $g0) (f32x4.mul (local.get $d0) (v128.load (i32.add (local.get $xhat) (local.get $at))))))
            (local.set $g1 (f32x4.add (local.get $g1) (f32x4.mul (local.get $d1) (v128.load offset=16 (i32.add (local.get $xhat) (local.get $at))))))
            (local.set $g2 (f32x4.add (local.get $g2) (f32x4.mul (local.get $d2) (v128.load offset=32 (i32.add (local.get $xhat) (local.get $at))))))
            (local.set $g3 (f32x4.add (local.get $g3) (f32x4.mul (local.get $d3) (v128.load offset=48 (i32.add (local.get $xhat) (local.get $at))))))
            (local.set $at (i32.add (local.get $at) (local.get $rowBytes)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $brows)))
        (local.set $o (i32.shl (local.get $c) (i32.const 2)))
        (v128.store (i32.add (local.get $dbeta) (local.get $o)) (local.get $b0))
        (v128.store offset=16 (i32.add (local.get $dbeta) (local.get $o)) (local.get $b1))
        (v128.store offset=32 (i32.add (local.get $dbeta) (local.get $o)) (local.get $b2))
        (v128.store offset=48 (i32.add (local.get $dbeta) (local.get $o)) (local.get $b3))
        (v128.store (i32.add (local.get $dgamma) (local.get $o)) (local.get $g0))
        (v128.store offset=16 (i32.add (local.get $dgamma) (local.get $o)) (local.get $g1))
        (v128.store offset=32 (i32.add (local.get $dgamma) (local.get $o)) (local.get $g2))
        (v128.store offset=48 (i32.add (local.get $dgamma) (local.get $o)) (local.get $g3))
        (local.set $c (i32.add (local.get $c) (i32.const 16)))
        (br $blocks)))
    (block $tdone1
      (loop $tcols
        (br_if $tdone1 (i32.ge_u (local.get $c) (local.get $n)))
        (local.set $o (i32.shl (local.get $c) (i32.const 2)))
        (local.set $sb (f32.const 0))
        (local.set $sg (f32.const 0))
        (local.set $at (local.get $o))
        (local.set $r (i32.const 0))
        (block $trdone
          (loop $trows
            (br_if $trdone (i32.ge_u (local.get $r) (local.get $rows)))
            (local.set $dzs (call $masked1 (local.get $dy) (local.get $y) (local.get $at)))
            (local.set $sb (f32.add (local.get $sb) (local.get $dzs)))
            (local.set $sg (f32.add (local.get $sg) (f32.mul (local.get $dzs) (f32.load (i32.add (local.get $xhat) (local.get $at))))))
            (local.set $at (i32.add (local.get $at) (local.get $rowBytes)))
            (local.set $r (i32.add (local.get $r) (i32.const 1)))
            (br $trows)))
        (f32.store (i32.add (local.get $dbeta) (local.get $o)) (local.get $sb))
        (f32.store (i32.add (local.get $dgamma) (local.get $o)) (local.get $sg))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $tcols)))
    (if (i32.eqz (local.get $dx)) (then (return)))
    ;; the per-column terms: mterm = scale·(dbeta/rows), xterm = scale·(dgamma/rows)
    (local.set $c (i32.const 0))
    (block $tdone
      (loop $terms
        (br_if $tdone (i32.ge_u (local.get $c) (local.get $n)))
        (local.set $o (i32.shl (local.get $c) (i32.const 2)))
        (f32.store (i32.add (local.get $mterm) (local.get $o))
          (f32.mul (f32.load (i32.add (local.get $scale) (local.get $o))) (f32.mul (f32.load (i32.add (local.get $dbeta) (local.get $o))) (local.get $inR))))
        (f32.store (i32.add (local.get $xterm) (local.get $o))
          (f32.mul (f32.load (i32.add (local.get $scale) (local.get $o))) (f32.mul (f32.load (i32.add (local.get $dgamma) (local.get $o))) (local.get $inR))))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $terms)))
    (local.set $r (i32.const 0))
    (block $ddone
      (loop $drows
        (br_if $ddone (i32.ge_u (local.get $r) (local.get $rows)))
        (local.set $c (i32.const 0))
        (block $d4
          (loop $dlanes
            (br_if $d4 (i32.ge_u (local.get $c) (local.get $end4)))
            (local.set $o (i32.shl (local.get $c) (i32.const 2)))
            (local.set $at (i32.add (i32.mul (local.get $r) (local.get $rowBytes)) (local.get $o)))
            (local.set $dz (v128.load (i32.add (local.get $dy) (local.get $at))))
            (if (local.get $y)
              (then (local.set $dz (v128.and (local.get $dz) (f32x4.gt (v128.load (i32.add (local.get $y) (local.get $at))) (v128.const i32x4 0 0 0 0))))))
            (v128.store (i32.add (local.get $dx) (local.get $at))
              (f32x4.sub
                (f32x4.sub
                  (f32x4.mul (local.get $dz) (v128.load (i32.add (local.get $scale) (local.get $o))))
                  (v128.load (i32.add (local.get $mterm) (local.get $o))))
                (f32x4.mul (v128.load (i32.add (local.get $xhat) (local.get $at))) (v128.load (i32.add (local.get $xterm) (local.get $o))))))
            (local.set $c (i32.add (local.get $c) (i32.const 4)))
            (br $dlanes)))
        (block $d1
          (loop $dtail
            (br_if $d1 (i32.ge_u (local.get $c) (local.get $n)))
            (local.set $o (i32.shl (local.get $c) (i32.const 2)))
            (local.set $at (i32.add (i32.mul (local.get $r) (local.get $rowBytes)) (local.get $o)))
            (f32.store (i32.add (local.get $dx) (local.get $at))
              (f32.sub
                (f32.sub
                  (f32.mul (call $masked1 (local.get $dy) (local.get $y) (local.get $at)) (f32.load (i32.add (local.get $scale) (local.get $o))))
                  (f32.load (i32.add (local.get $mterm) (local.get $o))))
                (f32.mul (f32.load (i32.add (local.get $xhat) (local.get $at))) (f32.load (i32.add (local.get $xterm) (local.get $o))))))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $dtail)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $drows))))

  ;; dy at byte offset `at` where y > 0 (0 elsewhere); all of dy when y is 0 (no relu)
  (func $masked1 (param $dy i32) (param $y i32) (param $at i32) (result f32)
    (if (result f32) (local.get $y)
      (then (select (f32.load (i32.add (local.get $dy) (local.get $at))) (f32.const 0) (f32.gt (f32.load (i32.add (local.get $y) (local.get $at))) (f32.const 0))))
      (else (f32.load (i32.add (local.get $dy) (local.get $at))))))

  ;; out[c] = Σ_r m[r, c], row by row from r = 0
  (func $column_sum_into (param $m i32) (param $rows i32) (param $cols i32) (param $out i32)
    (call $column_sum_scaled (local.get $m) (local.get $rows) (local.get $cols) (f32.const 1) (local.get $out)))
  (func $scale_in_place (param $p i32) (param $n i32) (param $s f32)
    (local $i i32)
    (block $done
      (loop $each
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (f32.store (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))
          (f32.mul (f32.load (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2)))) (local.get $s)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $each))))

  ;; maxpool_backward: max pooling's input gradient on NHWC x [b, h, w, c] with its forward output y
  ;; [b, ho, wo, c] and dy of y's shape: every window's dy goes to the first position (row-major
  ;; order, positions inside x only: padding is never a maximum) whose x equals the window's y, as
  ;; TensorFlow does; dx [b, h, w, c] (overlapping windows add up). Four channels at a time, a lane
  ;; taking its window's gradient once.
  (func (export "maxpool_backward")
    (param $x i32) (param $y i32) (param $dy i32) (param $b i32) (param $h i32) (param $w i32) (param $c i32)
    (param $ho i32) (param $wo i32) (param $p i32) (param $s i32) (param $top i32) (param $left i32) (param $dx i32)
    (local $n i32) (local $oh i32) (local $ow i32) (local $i i32) (local $j i32) (local $r i32) (local $q i32)
    (local $ch i32) (local $end4 i32) (local $out i32) (local $in i32) (local $o i32)
    (local $yv v128) (local $gv v128) (local $free v128) (local $eq v128) (local $ys f32) (local $gs f32) (local $taken i32)
    (local.set $end4 (i32.and (local.get $c) (i32.const -4)))
    (memory.fill (local.get $dx) (i32.const 0) (i32.shl (i32.mul (i32.mul (local.get $b) (local.get $h)) (i32.mul (local.get $w) (local.get $c))) (i32.const 2)))
    (block $bdone (loop $batch
      (br_if $bdone (i32.ge_u (local.get $n) (local.get $b)))
      (local.set $oh (i32.const 0))
      (block $ohdone (loop $orow
        (br_if $ohdone (i32.ge_u (local.get $oh) (local.get $ho)))
        (local.set $ow (i32.const 0))
        (block $owdone (loop $ocol
          (br_if $owdone (i32.ge_u (local.get $ow) (local.get $wo)))
          ;; byte offset of (n, oh, ow, 0) in y and dy
          (local.set $out (i32.shl (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $ho)) (local.get $oh)) (local.get $wo)) (local.get $ow)) (local.get $c)) (i32.const 2)))
          ;; four channels at a time
          (local.set $ch (i32.const 0))
          (block $c4done (loop $c4
            (br_if $c4done (i32.ge_u (local.get $ch) (local.get $end4)))
            (local.set $o (i32.add (local.get $out) (i32.shl (local.get $ch) (i32.const 2))))
            (local.set $yv (v128.load (i32.add (local.get $y) (local.get $o))))
            (local.set $gv (v128.load (i32.add (local.get $dy) (local.get $o))))
            (local.set $free (v128.const i32x4 -1 -1 -1 -1))
            (local.set $i (i32.const 0))
            (block $idone (loop $wi
              (br_if $idone (i32.ge_u (local.get $i) (local.get $p)))
              (local.set $r (i32.sub (i32.add (i32.mul (local.get $oh) (local.get $s)) (local.get $i)) (local.get $top)))
              (if (i32.and (i32.ge_s (local.get $r) (i32.const 0)) (i32.lt_s (local.get $r) (local.get $h))) (then
                (local.set $j (i32.const 0))
                (block $jdone (loop $wj
                  (br_if $jdone (i32.ge_u (local.get $j) (local.get $p)))
                  (local.set $q (i32.sub (i32.add (i32.mul (local.get $ow) (local.get $s)) (local.get $j)) (local.get $left)))
                  (if (i32.and (i32.ge_s (local.get $q) (i32.const 0)) (i32.lt_s (local.get $q) (local.get $w))) (then
                    (local.set $in (i32.shl (i32.add (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $h)) (local.get $r)) (local.get $w)) (local.get $q)) (local.get $c)) (local.get $ch)) (i32.const 2)))
                    (local.set $eq (v128.and (local.get $free) (f32x4.eq (v128.load (i32.add (local.get $x) (local.get $in))) (local.get $yv))))
                    (v128.store (i32.add (local.get $dx) (local.get $in))
                      (f32x4.add (v128.load (i32.add (local.get $dx) (local.get $in))) (v128.and (local.get $gv) (local.get $eq))))
                    (local.set $free (v128.andnot (local.get $free) (local.get $eq)))))
                  (local.set $j (i32.add (local.get $j) (i32.const 1)))
                  (br $wj)))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $wi)))
            (local.set $ch (i32.add (local.get $ch) (i32.const 4)))
            (br $c4)))
          ;; the last c mod 4 channels one at a time
          (block $c1done (loop $c1
            (br_if $c1done (i32.ge_u (local.get $ch) (local.get $c)))
            (local.set $o (i32.add (local.get $out) (i32.shl (local.get $ch) (i32.const 2))))
            (local.set $ys (f32.load (i32.add (local.get $y) (local.get $o))))
            (local.set $gs (f32.load (i32.add (local.get $dy) (local.get $o))))
            (local.set $taken (i32.const 0))
            (local.set $i (i32.const 0))
            (block $idone1 (loop $wi1
              (br_if $idone1 (i32.or (local.get $taken) (i32.ge_u (local.get $i) (local.get $p))))
              (local.set $r (i32.sub (i32.add (i32.mul (local.get $oh) (local.get $s)) (local.get $i)) (local.get $top)))
              (if (i32.and (i32.ge_s (local.get $r) (i32.const 0)) (i32.lt_s (local.get $r) (local.get $h))) (then
                (local.set $j (i32.const 0))
                (block $jdone1 (loop $wj1
                  (br_if $jdone1 (i32.or (local.get $taken) (i32.ge_u (local.get $j) (local.get $p))))
                  (local.set $q (i32.sub (i32.add (i32.mul (local.get $ow) (local.get $s)) (local.get $j)) (local.get $left)))
                  (if (i32.and (i32.ge_s (local.get $q) (i32.const 0)) (i32.lt_s (local.get $q) (local.get $w))) (then
                    (local.set $in (i32.shl (i32.add (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $n) (local.get $h)) (local.get $r)) (local.get $w)) (local.get $q)) (local.get $c)) (local.get $ch)) (i32.const 2)))
                    (if (f32.eq (f32.load (i32.add (local.get $x) (local.get $in))) (local.get $ys)) (then
                      (f32.store (i32.add (local.get $dx) (local.get $in)) (f32.add (f32.load (i32.add (local.get $dx) (local.get $in))) (local.get $gs)))
                      (local.set $taken (i32.const 1))))))
                  (local.set $j (i32.add (local.get $j) (i32.const 1)))
                  (br $wj1)))))
              (local.set $i (i32.add (local.get $i) (i32.const 1)))
              (br $wi1)))
            (local.set $ch (i32.add (local.get $ch) (i32.const 1)))
            (br $c1)))
          (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
          (br $ocol)))
        (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
        (br $orow)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $batch))))

  ;; im2col_t: the windows of a convolution as the columns of a matrix, for its filter gradient as
  ;; one matMul: out[(i·k + j)·c + ch, (n·ho + oh)·wo + ow] = x[n, oh·s + i - top, ow·s + j - left, ch]
  ;; (0 outside x) for NHWC x [b, h, w, c] and k x k windows of stride s; out is [k·k·c, b·ho·wo].
  ;; Four window positions inside x and four channels at a time are a 4x4 block of x (4 loads of
  ;; 4 channels) transposed in registers into 4 rows of out (4 stores), and each channel beyond
  ;; the last multiple of 4 is 4 loads into one store; window positions at x's edges go one value
  ;; at a time ($window_values).
  (func (export "im2col_t")
    (param $x i32) (param $b i32) (param $h i32) (param $w i32) (param $c i32) (param $k i32) (param $s i32)
    (param $top i32) (param $left i32) (param $ho i32) (param $wo i32) (param $out i32)
    (local $i i32) (local $j i32) (local $ch i32) (local $n i32) (local $oh i32) (local $ow i32)
    (local $r i32) (local $q i32) (local $rowBase i32) (local $rows i32) (local $col i32) (local $rowBytes i32)
    (local $cBytes i32) (local $c4 i32) (local $cb i32) (local $ce i32) (local $ce4 i32) (local $step i32) (local $src i32) (local $dst i32)
    (local $v0 v128) (local $v1 v128) (local $v2 v128) (local $v3 v128)
    (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    ;; bytes of one row of out (b·ho·wo values), of one position of x (c values), and the channels in fours
    (local.set $rowBytes (i32.shl (i32.mul (i32.mul (local.get $b) (local.get $ho)) (local.get $wo)) (i32.const 2)))
    (local.set $cBytes (i32.shl (local.get $c) (i32.const 2)))
    (local.set $c4 (i32.and (local.get $c) (i32.const -4)))
    (local.set $step (i32.mul (local.get $s) (local.get $cBytes)))
    (block $idone (loop $li
      (br_if $idone (i32.ge_u (local.get $i) (local.get $k)))
      (local.set $j (i32.const 0))
      (block $jdone (loop $lj
        (br_if $jdone (i32.ge_u (local.get $j) (local.get $k)))
        ;; out's rows of window place (i, j), and the byte column of position (n, oh, 0)
        (local.set $rows (i32.add (local.get $out)
          (i32.mul (i32.mul (i32.add (i32.mul (local.get $i) (local.get $k)) (local.get $j)) (local.get $c)) (local.get $rowBytes))))
        ;; channels in blocks of 16 (cb .. ce - 1): fewer rows of out written at once (16 ran
        ;; 2x faster than no blocks on 26 channels, and faster than blocks of 4, 8, 12 or 24)
        (local.set $cb (i32.const 0))
        (block $bdone (loop $lb
        (br_if $bdone (i32.ge_u (local.get $cb) (local.get $c)))
        (local.set $ce (i32.add (local.get $cb) (i32.const 16)))
        (if (i32.gt_u (local.get $ce) (local.get $c)) (then (local.set $ce (local.get $c))))
        (local.set $ce4 (select (local.get $ce) (local.get $c4) (i32.lt_u (local.get $ce) (local.get $c4))))
        (local.set $col (i32.const 0))
        (local.set $n (i32.const 0))
        (block $ndone (loop $ln
          (br_if $ndone (i32.ge_u (local.get $n) (local.get $b)))
          (local.set $oh (i32.const 0))
          (block $ohdone (loop $loh
            (br_if $ohdone (i32.ge_u (local.get $oh) (local.get $ho)))
            (local.set $r (i32.sub (i32.add (i32.mul (local.get $oh) (local.get $s)) (local.get $i)) (local.get $top)))
            (if (i32.or (i32.lt_s (local.get $r) (i32.const 0)) (i32.ge_s (local.get $r) (local.get $h)))
              (then
                ;; the row is padding: wo zeros in each channel's row
                (local.set $ch (local.get $cb))
                (block $zdone (loop $lz
                  (br_if $zdone (i32.ge_u (local.get $ch) (local.get $ce)))
                  (memory.fill (i32.add (i32.add (local.get $rows) (i32.mul (local.get $ch) (local.get $rowBytes))) (local.get $col))
                    (i32.const 0) (i32.shl (local.get $wo) (i32.const 2)))
                  (local.set $ch (i32.add (local.get $ch) (i32.const 1)))
                  (br $lz))))
              (else
                ;; byte offset of x[n, r, 0, 0]
                (local.set $rowBase (i32.add (local.get $x)
                  (i32.mul (i32.mul (i32.add (i32.mul (local.get $n) (local.get $h)) (local.get $r)) (local.get $w)) (local.get $cBytes))))
                (local.set $ow (i32.const 0))
                (block $owdone (loop $low
                  (br_if $owdone (i32.gt_u (i32.add (local.get $ow) (i32.const 4)) (local.get $wo)))
                  (local.set $q (i32.sub (i32.add (i32.mul (local.get $ow) (local.get $s)) (local.get $j)) (local.get $left)))
                  (if (i32.and (i32.ge_s (local.get $q) (i32.const 0))
                               (i32.lt_s (i32.add (local.get $q) (i32.mul (i32.const 3) (local.get $s))) (local.get $w)))
                    (then
                      (local.set $ch (local.get $cb))
                      (block $cdone (loop $lc
                        (br_if $cdone (i32.ge_u (local.get $ch) (local.get $ce4)))
                        ;; x[n, r, q + t·s, ch..ch+3] for t = 0..3, transposed
                        (local.set $src (i32.add (local.get $rowBase) (i32.shl (i32.add (i32.mul (local.get $q) (local.get $c)) (local.get $ch)) (i32.const 2))))
                        (local.set $v0 (v128.load (local.get $src)))
                        (local.set $v1 (v128.load (i32.add (local.get $src) (local.get $step))))
                        (local.set $v2 (v128.load (i32.add (local.get $src) (i32.shl (local.get $step) (i32.const 1)))))
                        (local.set $v3 (v128.load (i32.add (local.get $src) (i32.mul (local.get $step) (i32.const 3)))))
                        (local.set $t0 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v0) (local.get $v1)))
                        (local.set $t1 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v0) (local.get $v1)))
                        (local.set $t2 (i8x16.shuffle 0 1 2 3 16 17 18 19 4 5 6 7 20 21 22 23 (local.get $v2) (local.get $v3)))
                        (local.set $t3 (i8x16.shuffle 8 9 10 11 24 25 26 27 12 13 14 15 28 29 30 31 (local.get $v2) (local.get $v3)))
                        (local.set $dst (i32.add (i32.add (i32.add (local.get $rows) (i32.mul (local.get $ch) (local.get $rowBytes))) (local.get $col))
                          (i32.shl (local.get $ow) (i32.const 2))))
                        (v128.store (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t0) (local.get $t2)))
                        (local.set $dst (i32.add (local.get $dst) (local.get $rowBytes)))
                        (v128.store (local.get $dst) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t0) (local.get $t2)))
                        (local.set $dst (i32.add (local.get $dst) (local.get $rowBytes)))
                        (v128.store (local.get $dst) (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (local.get $t1) (local.get $t3)))
                        (local.set $dst (i32.add (local.get $dst) (local.get $rowBytes)))
                        (v128.store (local.get $dst) (i8x16.shuffle 8 9 10 11 12 13 14 15 24 25 26 27 28 29 30 31 (local.get $t1) (local.get $t3)))
                        (local.set $ch (i32.add (local.get $ch) (i32.const 4)))
                        (br $lc)))
                      ;; the channels beyond the last four: four loads into one store each
                      (block $tdone (loop $lt
                        (br_if $tdone (i32.ge_u (local.get $ch) (local.get $ce)))
                        (local.set $src (i32.add (local.get $rowBase) (i32.shl (i32.add (i32.mul (local.get $q) (local.get $c)) (local.get $ch)) (i32.const 2))))
                        (v128.store
                          (i32.add (i32.add (i32.add (local.get $rows) (i32.mul (local.get $ch) (local.get $rowBytes))) (local.get $col)) (i32.shl (local.get $ow) (i32.const 2)))
                          (f32x4.replace_lane 3
                            (f32x4.replace_lane 2
                              (f32x4.replace_lane 1
                                (f32x4.splat (f32.load (local.get $src)))
                                (f32.load (i32.add (local.get $src) (local.get $step))))
                              (f32.load (i32.add (local.get $src) (i32.shl (local.get $step) (i32.const 1)))))
                            (f32.load (i32.add (local.get $src) (i32.mul (local.get $step) (i32.const 3))))))
                        (local.set $ch (i32.add (local.get $ch) (i32.const 1)))
                        (br $lt))))
                    (else
                      (call $window_values (local.get $rows) (local.get $rowBytes) (local.get $col) (local.get $rowBase) (local.get $ow) (i32.const 4)
                        (local.get $s) (local.get $j) (local.get $left) (local.get $w) (local.get $c) (local.get $cb) (local.get $ce))))
                  (local.set $ow (i32.add (local.get $ow) (i32.const 4)))
                  (br $low)))
                ;; the last wo mod 4 positions
                (call $window_values (local.get $rows) (local.get $rowBytes) (local.get $col) (local.get $rowBase) (local.get $ow)
                  (i32.sub (local.get $wo) (local.get $ow)) (local.get $s) (local.get $j) (local.get $left) (local.get $w) (local.get $c) (local.get $cb) (local.get $ce))))
            (local.set $col (i32.add (local.get $col) (i32.shl (local.get $wo) (i32.const 2))))
            (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
            (br $loh)))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (br $ln)))
        (local.set $cb (local.get $ce))
        (br $lb)))
        (local.set $j (i32.add (local.get $j) (i32.const 1)))
        (br $lj)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $li))))

  ;; im2col_t's values one at a time: positions ow0 .. ow0 + count - 1 of an output row whose input
  ;; row starts at rowBase, channels ch0 .. ch1 - 1 of c; 0 where the window column is outside x.
  (func $window_values
    (param $rows i32) (param $rowBytes i32) (param $col i32) (param $rowBase i32) (param $ow0 i32) (param $count i32)
    (param $s i32) (param $j i32) (param $left i32) (param $w i32) (param $c i32) (param $ch0 i32) (param $ch1 i32)
    (local $ow i32) (local $q i32) (local $ch i32) (local $dst i32)
    (local.set $ow (local.get $ow0))
    (block $done (loop $positions
      (br_if $done (i32.ge_u (local.get $ow) (i32.add (local.get $ow0) (local.get $count))))
      (local.set $q (i32.sub (i32.add (i32.mul (local.get $ow) (local.get $s)) (local.get $j)) (local.get $left)))
      (local.set $ch (local.get $ch0))
      (block $cdone (loop $channels
        (br_if $cdone (i32.ge_u (local.get $ch) (local.get $ch1)))
        (local.set $dst (i32.add (i32.add (i32.add (local.get $rows) (i32.mul (local.get $ch) (local.get $rowBytes))) (local.get $col))
          (i32.shl (local.get $ow) (i32.const 2))))
        (f32.store (local.get $dst)
          (if (result f32) (i32.and (i32.ge_s (local.get $q) (i32.const 0)) (i32.lt_s (local.get $q) (local.get $w)))
            (then (f32.load (i32.add (local.get $rowBase) (i32.shl (i32.add (i32.mul (local.get $q) (local.get $c)) (local.get $ch)) (i32.const 2)))))
            (else (f32.const 0))))
        (local.set $ch (i32.add (local.get $ch) (i32.const 1)))
        (br $channels)))
      (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
      (br $positions))))

  ;; filter_gradient: out[((i·k + j)·c + ch)·f + q] = Σ over (n, oh, ow) of
  ;; x[n, oh·s + i - top, ow·s + j - left, ch] · dz[n, oh, ow, q] (x is 0 outside), for NHWC x
  ;; [b, h, w, c], dz [b, ho, wo, f] with f a multiple of 4, k x k windows of stride s: a conv
  ;; layer's filter gradient [k, k, c, f] summed in place, for few channels (one: the first layer
  ;; of an image model), where the window matrix times dz is a product with a tiny result over a
  ;; huge inner dimension. For each row of dz and window place (i, j), the run of positions whose
  ;; window value is inside x adds x·dz into 16 filters (4 registers) at a time, then 4.
  (func (export "filter_gradient")
    (param $x i32) (param $dz i32) (param $b i32) (param $h i32) (param $w i32) (param $c i32) (param $k i32)
    (param $s i32) (param $top i32) (param $left i32) (param $ho i32) (param $wo i32) (param $f i32) (param $out i32)
    (local $n i32) (local $oh i32) (local $i i32) (local $j i32) (local $ch i32) (local $q i32) (local $ow i32)
    (local $iy i32) (local $lo i32) (local $hi i32) (local $num i32) (local $f16 i32)
    (local $dzRow i32) (local $xRow i32) (local $acc i32) (local $xp i32) (local $dp i32)
    (local $xStep i32) (local $dzStep i32) (local $fBytes i32)
    (local $xv v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $a3 v128)
    (local.set $fBytes (i32.shl (local.get $f) (i32.const 2)))
    (local.set $f16 (i32.and (local.get $f) (i32.const -16)))
    ;; x moves s positions and dz one position for each step of ow
    (local.set $xStep (i32.shl (i32.mul (local.get $s) (local.get $c)) (i32.const 2)))
    (local.set $dzStep (local.get $fBytes))
    (memory.fill (local.get $out) (i32.const 0)
      (i32.mul (i32.mul (i32.mul (local.get $k) (local.get $k)) (local.get $c)) (local.get $fBytes)))
    (block $ndone (loop $ln
      (br_if $ndone (i32.ge_u (local.get $n) (local.get $b)))
      (local.set $oh (i32.const 0))
      (block $ohdone (loop $loh
        (br_if $ohdone (i32.ge_u (local.get $oh) (local.get $ho)))
        (local.set $dzRow (i32.add (local.get $dz)
          (i32.mul (i32.mul (i32.add (i32.mul (local.get $n) (local.get $ho)) (local.get $oh)) (local.get $wo)) (local.get $fBytes))))
        (local.set $i (i32.const 0))
        (block $idone (loop $li
          (br_if $idone (i32.ge_u (local.get $i) (local.get $k)))
          (local.set $iy (i32.sub (i32.add (i32.mul (local.get $oh) (local.get $s)) (local.get $i)) (local.get $top)))
          (if (i32.and (i32.ge_s (local.get $iy) (i32.const 0)) (i32.lt_s (local.get $iy) (local.get $h)))
            (then
              (local.set $xRow (i32.add (local.get $x)
                (i32.shl (i32.mul (i32.mul (i32.add (i32.mul (local.get $n) (local.get $h)) (local.get $iy)) (local.get $w)) (local.get $c)) (i32.const 2))))
              (local.set $j (i32.const 0))
              (block $jdone (loop $lj
                (br_if $jdone (i32.ge_u (local.get $j) (local.get $k)))
                ;; ow from lo to hi - 1: those with 0 <= ow·s + j - left < w
                (local.set $num (i32.sub (local.get $left) (local.get $j)))
                (local.set $lo (select
                  (i32.div_u (i32.add (local.get $num) (i32.sub (local.get $s) (i32.const 1))) (local.get $s))
                  (i32.const 0)
                  (i32.gt_s (local.get $num) (i32.const 0))))
                (local.set $num (i32.add (i32.sub (i32.sub (local.get $w) (i32.const 1)) (local.get $j)) (local.get $left)))
                (local.set $hi (select
                  (i32.add (i32.div_u (local.get $num) (local.get $s)) (i32.const 1))
                  (i32.const 0)
                  (i32.ge_s (local.get $num) (i32.const 0))))
                (if (i32.gt_u (local.get $hi) (local.get $wo)) (then (local.set $hi (local.get $wo))))
                (if (i32.lt_u (local.get $lo) (local.get $hi))
                  (then
                    (local.set $ch (i32.const 0))
                    (block $chdone (loop $lch
                      (br_if $chdone (i32.ge_u (local.get $ch) (local.get $c)))
                      (local.set $acc (i32.add (local.get $out)
                        (i32.mul (i32.add (i32.mul (i32.add (i32.mul (local.get $i) (local.get $k)) (local.get $j)) (local.get $c)) (local.get $ch)) (local.get $fBytes))))
                      ;; 16 filters at a time
                      (local.set $q (i32.const 0))
                      (block $q16done (loop $lq16
                        (br_if $q16done (i32.ge_u (local.get $q) (local.get $f16)))
                        (local.set $a0 (v128.load (local.get $acc)))
                        (local.set $a1 (v128.load offset=16 (local.get $acc)))
                        (local.set $a2 (v128.load offset=32 (local.get $acc)))
                        (local.set $a3 (v128.load offset=48 (local.get $acc)))
                        (local.set $xp (i32.add (local.get $xRow)
                          (i32.shl (i32.add (i32.mul (i32.sub (i32.add (i32.mul (local.get $lo) (local.get $s)) (local.get $j)) (local.get $left)) (local.get $c)) (local.get $ch)) (i32.const 2))))
                        (local.set $dp (i32.add (local.get $dzRow) (i32.add (i32.mul (local.get $lo) (local.get $fBytes)) (i32.shl (local.get $q) (i32.const 2)))))
                        (local.set $ow (local.get $lo))
                        (loop $low
                          (local.set $xv (v128.load32_splat (local.get $xp)))
                          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (local.get $xv) (v128.load (local.get $dp)))))
                          (local.set $a1 (f32x4.add (local.get $a1) (f32x4.mul (local.get $xv) (v128.load offset=16 (local.get $dp)))))
                          (local.set $a2 (f32x4.add (local.get $a2) (f32x4.mul (local.get $xv) (v128.load offset=32 (local.get $dp)))))
                          (local.set $a3 (f32x4.add (local.get $a3) (f32x4.mul (local.get $xv) (v128.load offset=48 (local.get $dp)))))
                          (local.set $xp (i32.add (local.get $xp) (local.get $xStep)))
                          (local.set $dp (i32.add (local.get $dp) (local.get $dzStep)))
                          (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
                          (br_if $low (i32.lt_u (local.get $ow) (local.get $hi))))
                        (v128.store (local.get $acc) (local.get $a0))
                        (v128.store offset=16 (local.get $acc) (local.get $a1))
                        (v128.store offset=32 (local.get $acc) (local.get $a2))
                        (v128.store offset=48 (local.get $acc) (local.get $a3))
                        (local.set $acc (i32.add (local.get $acc) (i32.const 64)))
                        (local.set $q (i32.add (local.get $q) (i32.const 16)))
                        (br $lq16)))
                      ;; then 4 at a time
                      (block $q4done (loop $lq4
                        (br_if $q4done (i32.ge_u (local.get $q) (local.get $f)))
                        (local.set $a0 (v128.load (local.get $acc)))
                        (local.set $xp (i32.add (local.get $xRow)
                          (i32.shl (i32.add (i32.mul (i32.sub (i32.add (i32.mul (local.get $lo) (local.get $s)) (local.get $j)) (local.get $left)) (local.get $c)) (local.get $ch)) (i32.const 2))))
                        (local.set $dp (i32.add (local.get $dzRow) (i32.add (i32.mul (local.get $lo) (local.get $fBytes)) (i32.shl (local.get $q) (i32.const 2)))))
                        (local.set $ow (local.get $lo))
                        (loop $low4
                          (local.set $a0 (f32x4.add (local.get $a0) (f32x4.mul (v128.load32_splat (local.get $xp)) (v128.load (local.get $dp)))))
                          (local.set $xp (i32.add (local.get $xp) (local.get $xStep)))
                          (local.set $dp (i32.add (local.get $dp) (local.get $dzStep)))
                          (local.set $ow (i32.add (local.get $ow) (i32.const 1)))
                          (br_if $low4 (i32.lt_u (local.get $ow) (local.get $hi))))
                        (v128.store (local.get $acc) (local.get $a0))
                        (local.set $acc (i32.add (local.get $acc) (i32.const 16)))
                        (local.set $q (i32.add (local.get $q) (i32.const 4)))
                        (br $lq4)))
                      (local.set $ch (i32.add (local.get $ch) (i32.const 1)))
                      (br $lch)))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $lj)))))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br $li)))
        (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
        (br $loh)))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $ln))))
)
