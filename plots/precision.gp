# Figure 2: error against BPTT as the precision grows, every rule.
load 'plots/common.gp'
f = datadir.'/precision.csv'
set logscale y
set format y '10^{%L}'
set xlabel 'precision p (bits)'
set ylabel '||g_{rule} - g_{BPTT}|| / ||g_{BPTT}||'
set title 'Exact rules follow 2^{-p}; approximations keep their gap (recurrent ALIF, heaviside + triangle surrogate)'
set key outside right
set yrange [1e-320:10]
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set output out('precision', fmt)
  plot for [r in '"rtrl" "ostl" "ostl:traces=diagonal" "eprop" "tbptt:window=10" "fptt:chunks=4"'] \
         f u (strcol(1) eq r ? $2 : 1/0):(10**$3) w lp pt 7 ps 0.6 t r, \
       f u (strcol(1) eq '"rtrl"' ? $2 : 1/0):(2**(14-$2)) w l dt 2 lc rgb 'black' t '2^{14-p} (EXACT threshold)'
  unset output
}
