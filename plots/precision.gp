# Figure 2: error against BPTT as the precision grows, every rule.
load 'plots/common.gp'
set key noenhanced
f = datadir.'/precision.csv'
set xlabel 'precision p (bits)'
set ylabel 'log_{10} ||g_{rule} - g_{BPTT}|| / ||g_{BPTT}||'
set title 'Error against BPTT: exact rules follow 2^{-p} (RTRL lies under OSTL), approximations stay flat'
set key outside right
set yrange [*:5]
do for [fmt in "png svg"] {
  eval 'set terminal '.term(fmt)
  set output out('precision', fmt)
  plot for [r in '"rtrl" "ostl" "ostl:traces=diagonal" "eprop" "tbptt:window=10" "fptt:chunks=4"'] \
         f u (strcol(1) eq r ? $2 : 1/0):3 w lp pt 7 ps 0.6 t r, \
       f u (strcol(1) eq 'rtrl' ? $2 : 1/0):((14.0 - $2) * log10(2.0)) w l dt 2 lc rgb 'black' t 'log_{10} 2^{14-p} (EXACT threshold)'
  unset output
}
