# Figure 4: memory and time per step against T and n, beside the theoretical slopes.
load 'plots/common.gp'
set key noenhanced
fT = datadir.'/cost_T.csv'
fn = datadir.'/cost_n.csv'
rules = '"bptt" "rtrl" "ostl" "ostl:traces=diagonal" "eprop"'
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set output out('cost', fmt)
  set multiplot layout 1,2 title 'Measured cost (double, one recurrent LIF layer); dashed: slopes T^1, n^4 (RTRL), n^2'
  set logscale xy
  set format y '10^{%L}'
  set xlabel 'sequence length T (n = 16)'
  set xrange [80:2000]
  set ylabel 'bytes held by the rule'
  set key top left
  plot for [r in rules.' "fptt (50-step chunks)"'] fT u (strcol(1) eq r ? $3 : 1/0):6 w lp pt 7 ps 0.6 t r, \
       fT u (strcol(1) eq 'bptt' ? $3 : 1/0):(900*$3) w l dt 2 lc rgb 'black' t 'slope 1'
  set xlabel 'neurons n (T = 200)'
  set xrange [6:80]
  set ylabel 'time per step (µs)'
  plot for [r in rules.' "fptt:chunks=4"'] fn u (strcol(1) eq r ? $2 : 1/0):5 w lp pt 7 ps 0.6 t r, \
       fn u (strcol(1) eq 'rtrl' ? $2 : 1/0):(1e-4*$2**4) w l dt 2 lc rgb 'black' t 'slope n⁴', \
       fn u (strcol(1) eq 'eprop' ? $2 : 1/0):(1.5e-2*$2**2) w l dt 3 lc rgb 'black' t 'slope n²'
  unset multiplot
  unset output
}
